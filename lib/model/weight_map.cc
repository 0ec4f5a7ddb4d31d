#include "lib/model/weight_map.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/files/file_contents.h"

namespace fer {
namespace {

std::string ShapeString(c10::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape.vec(), ","), "]");
}

torch::ScalarType TensorDtype(WeightDtype dtype) {
  switch (dtype) {
    case WeightDtype::kInt32:
      return torch::kInt32;
    case WeightDtype::kBool:
      return torch::kBool;
    case WeightDtype::kFloat32:
      break;
  }
  return torch::kFloat32;
}

}  // namespace

absl::Status WeightMap::Insert(const std::string& name, torch::Tensor tensor) {
  if (!tensors_.emplace(name, std::move(tensor)).second) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": tensor '", name, "' appears more than once"));
  }
  order_.push_back(name);
  return absl::OkStatus();
}

const torch::Tensor* WeightMap::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

absl::StatusOr<torch::Tensor> WeightMap::Take(const std::string& name,
                                              const std::vector<int64_t>& expected_shape) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat(source_, ": no tensor '", name, "'"));
  }
  const torch::Tensor& t = it->second;
  bool same = static_cast<size_t>(t.dim()) == expected_shape.size();
  for (size_t i = 0; same && i < expected_shape.size(); ++i) {
    same = expected_shape[i] < 0 || expected_shape[i] == t.size(static_cast<int64_t>(i));
  }
  if (!same) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": tensor '", name, "' has shape ",
                                                   ShapeString(t.sizes()), ", expected ",
                                                   ShapeString(expected_shape)));
  }
  taken_.insert(name);
  return t;
}

absl::StatusOr<torch::Tensor> WeightMap::TakeFloat(const std::string& name,
                                                   const std::vector<int64_t>& expected_shape) {
  absl::StatusOr<torch::Tensor> t = Take(name, expected_shape);
  if (t.ok() && t->scalar_type() != torch::kFloat32) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": tensor '", name, "' is not float32"));
  }
  return t;
}

std::vector<std::string> WeightMap::Unused() const {
  std::vector<std::string> unused;
  for (const std::string& name : order_) {
    if (taken_.count(name) == 0) unused.push_back(name);
  }
  return unused;
}

absl::Status WeightMap::CheckAllUsed() const {
  const std::vector<std::string> unused = Unused();
  if (unused.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ": unexpected tensors ", absl::StrJoin(unused, ", ")));
}

absl::StatusOr<WeightMap> LoadWeightMap(const std::string& manifest_path) {
  absl::StatusOr<std::string> text = ReadFileContents(manifest_path);
  if (!text.ok()) return text.status();
  const std::filesystem::path dir = std::filesystem::path(manifest_path).parent_path();
  WeightMap map(manifest_path);
  absl::Status read = ReadWeightManifest(
      *text, manifest_path,
      [&dir](const std::string& path) { return ReadFileContents((dir / path).string()); },
      [&map](const WeightSpec& spec, const uint8_t* data) {
        torch::Tensor tensor = torch::empty(spec.shape, TensorDtype(spec.dtype));
        DecodeWeight(spec, data, tensor.data_ptr());
        return map.Insert(spec.name, std::move(tensor));
      });
  if (!read.ok()) return read;
  return map;
}

absl::StatusOr<WeightMap> LoadFaceApiWeights(const std::string& model_dir,
                                             const std::string& model_name) {
  return LoadWeightMap(model_dir + "/" + model_name + "-weights_manifest.json");
}

}  // namespace fer
