#ifndef FERSERVE_LIB_MODEL_WEIGHT_MAP_H_
#define FERSERVE_LIB_MODEL_WEIGHT_MAP_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/model/weight_manifest.h"

namespace fer {

// The named tensors of one TensorFlow.js weights manifest (the format face-api
// ships: `<model>-weights_manifest.json` + `.bin` shards), decoded exactly as
// tfjs-core's io.decodeWeights does (see DecodeWeight in weight_manifest.h).
// Tensors are CPU, contiguous, in the layout stored (TensorFlow's, e.g.
// conv filters [kh, kw, in, out]); dtype float32, int32 or bool.
// Keeps tensors alive and hands out their float data: a network's weights in
// TensorFlow's layouts (TakeFloat's CPU float32 tensors), read while a
// fused-kernel network packs them, freed with this object.
class KeptFloats {
 public:
  const float* Keep(const torch::Tensor& tensor) {
    kept_.push_back(tensor.contiguous());
    return kept_.back().data_ptr<float>();
  }

 private:
  std::vector<torch::Tensor> kept_;
};

class WeightMap {
 public:
  WeightMap() = default;
  // `source` names where the tensors came from (used in error messages).
  explicit WeightMap(std::string source) : source_(std::move(source)) {}

  // Adds a tensor; fails on a duplicate name.
  absl::Status Insert(const std::string& name, torch::Tensor tensor);

  bool Contains(const std::string& name) const { return tensors_.count(name) > 0; }
  size_t size() const { return tensors_.size(); }
  const std::string& source() const { return source_; }
  // Names in insertion (manifest) order.
  const std::vector<std::string>& names() const { return order_; }

  // The tensor `name` or null, without checks; does not mark it as used.
  const torch::Tensor* Find(const std::string& name) const;

  // The tensor `name`, checked against `expected_shape` (-1 matches any
  // extent); marks it as used. NotFound when missing, InvalidArgument when
  // the shape differs; both messages name the source and the tensor.
  absl::StatusOr<torch::Tensor> Take(const std::string& name,
                                     const std::vector<int64_t>& expected_shape);
  // Like Take() for a float32 tensor (fails on another dtype).
  absl::StatusOr<torch::Tensor> TakeFloat(const std::string& name,
                                          const std::vector<int64_t>& expected_shape);

  // Names never passed to Take(), in manifest order.
  std::vector<std::string> Unused() const;
  // InvalidArgument listing the unused tensors, if any (a sign of a wrong or
  // mismatched model file).
  absl::Status CheckAllUsed() const;

 private:
  std::string source_;
  std::map<std::string, torch::Tensor> tensors_;
  std::vector<std::string> order_;
  std::set<std::string> taken_;
};

// Reads `manifest_path` and the shards it lists (paths relative to the
// manifest's folder). Errors name the file and, where it applies, the tensor:
// NotFound for a missing file, InvalidArgument for a malformed manifest
// (bad JSON, unknown dtype, bad shape, duplicate name), DataLoss when a
// group's shards are shorter or longer than its tensors need.
absl::StatusOr<WeightMap> LoadWeightMap(const std::string& manifest_path);

// Same, for the model `model_name` (e.g. "face_expression_model") in a
// face-api model folder: `<model_dir>/<model_name>-weights_manifest.json`.
absl::StatusOr<WeightMap> LoadFaceApiWeights(const std::string& model_dir,
                                             const std::string& model_name);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_WEIGHT_MAP_H_
