#ifndef FERSERVE_LIB_MODEL_FACE_EXPRESSION_NET_H_
#define FERSERVE_LIB_MODEL_FACE_EXPRESSION_NET_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_feature_extractor.h"
#include "lib/model/face_types.h"
#include "lib/model/weight_map.h"

namespace fer {

// face-api's FaceExpressionNet (src/faceExpressionNet): the feature extractor
// with its own weights, then FC 256 -> 7 and softmax. Immutable after
// construction; all methods are thread-safe.
class FaceExpressionNet {
 public:
  static constexpr const char* kModelName = "face_expression_model";

  // Loads `<model_dir>/face_expression_model-weights_manifest.json`.
  static absl::StatusOr<FaceExpressionNet> Load(const std::string& model_dir,
                                                const torch::Device& device,
                                                CpuKernels cpu_kernels = CpuKernels::kAuto);
  // Builds the net from a decoded weight map; fails when a tensor is missing,
  // mis-shaped, or left unused.
  static absl::StatusOr<FaceExpressionNet> FromWeightMap(
      WeightMap& weights, const torch::Device& device, CpuKernels cpu_kernels = CpuKernels::kAuto);

  // Class names in output order (FaceApiExpressionLabels()).
  static const std::vector<std::string>& Labels();

  struct Output {
    torch::Tensor features;       // [B, 256], the extractor's output
    torch::Tensor probabilities;  // [B, 7], softmax
  };
  // `batch`: [B, 112, 112, 3] float32 RGB 0..255 (see FaceFeatureExtractor).
  // Results are on device().
  Output Forward(const torch::Tensor& batch) const;

  // The head alone: softmax(features x W + b) for [B, 256] features.
  torch::Tensor Classify(const torch::Tensor& features) const;

  // The head's weights, [7, 256] row-major, on the CPU.
  const LinearLayerWeights& Head() const { return head_; }

  const FaceFeatureExtractor& extractor() const { return extractor_; }
  const torch::Device& device() const { return extractor_.device(); }

 private:
  FaceExpressionNet(FaceFeatureExtractor extractor, torch::Tensor fc_weights, torch::Tensor fc_bias)
      : extractor_(std::move(extractor)),
        fc_weights_(std::move(fc_weights)),
        fc_bias_(std::move(fc_bias)),
        head_(HeadOnCpu(fc_weights_, fc_bias_)) {}

  static LinearLayerWeights HeadOnCpu(const torch::Tensor& fc_weights,
                                      const torch::Tensor& fc_bias);

  FaceFeatureExtractor extractor_;
  torch::Tensor fc_weights_;  // [256, 7], TF's matMul layout
  torch::Tensor fc_bias_;     // [7]
  LinearLayerWeights head_;   // the same, [7, 256], on the CPU (Classify there)
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_FACE_EXPRESSION_NET_H_
