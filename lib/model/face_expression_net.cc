#include "lib/model/face_expression_net.h"

#include "lib/model/expression_labels.h"
#include "lib/model/linear_softmax.h"
#include "lib/model/status_macros.h"

namespace fer {

const std::vector<std::string>& FaceExpressionNet::Labels() { return FaceApiExpressionLabels(); }

absl::StatusOr<FaceExpressionNet> FaceExpressionNet::Load(const std::string& model_dir,
                                                          const torch::Device& device,
                                                          CpuKernels cpu_kernels) {
  FER_ASSIGN_OR_RETURN(WeightMap weights, LoadFaceApiWeights(model_dir, kModelName));
  return FromWeightMap(weights, device, cpu_kernels);
}

absl::StatusOr<FaceExpressionNet> FaceExpressionNet::FromWeightMap(WeightMap& weights,
                                                                   const torch::Device& device,
                                                                   CpuKernels cpu_kernels) {
  FER_ASSIGN_OR_RETURN(FaceFeatureExtractor extractor,
                       FaceFeatureExtractor::FromWeightMap(weights, device, cpu_kernels));
  const int64_t classes = static_cast<int64_t>(Labels().size());
  FER_ASSIGN_OR_RETURN(
      torch::Tensor fc_weights,
      weights.TakeFloat("fc/weights", {FaceFeatureExtractor::kFeatureDim, classes}));
  FER_ASSIGN_OR_RETURN(torch::Tensor fc_bias, weights.TakeFloat("fc/bias", {classes}));
  FER_RETURN_IF_ERROR(weights.CheckAllUsed());
  return FaceExpressionNet(std::move(extractor), fc_weights.to(device), fc_bias.to(device));
}

torch::Tensor FaceExpressionNet::Classify(const torch::Tensor& features) const {
  TORCH_CHECK(features.dim() == 2 && features.size(1) == FaceFeatureExtractor::kFeatureDim,
              "FaceExpressionNet::Classify expects [B, 256], got ", features.sizes());
  c10::InferenceMode inference;
  if (device().is_cpu()) {
    const torch::Tensor x = features.to(torch::kCPU, torch::kFloat32).contiguous();
    torch::Tensor probabilities = torch::empty({x.size(0), head_.classes}, torch::kFloat32);
    LinearSoftmax(head_.weight.data(), head_.bias.data(), head_.classes, head_.dim,
                  x.data_ptr<float>(), static_cast<int>(x.size(0)),
                  probabilities.data_ptr<float>());
    return probabilities;
  }
  const torch::Tensor logits =
      torch::matmul(features.to(device(), torch::kFloat32), fc_weights_) + fc_bias_;
  return torch::softmax(logits, /*dim=*/1);
}

LinearLayerWeights FaceExpressionNet::HeadOnCpu(const torch::Tensor& fc_weights,
                                                const torch::Tensor& fc_bias) {
  const torch::Tensor w = fc_weights.t().to(torch::kCPU, torch::kFloat32).contiguous();
  const torch::Tensor b = fc_bias.to(torch::kCPU, torch::kFloat32).contiguous();
  LinearLayerWeights head;
  head.classes = static_cast<int>(w.size(0));
  head.dim = static_cast<int>(w.size(1));
  head.weight.assign(w.data_ptr<float>(), w.data_ptr<float>() + w.numel());
  head.bias.assign(b.data_ptr<float>(), b.data_ptr<float>() + b.numel());
  return head;
}

FaceExpressionNet::Output FaceExpressionNet::Forward(const torch::Tensor& batch) const {
  c10::InferenceMode inference;
  Output out;
  out.features = extractor_.Forward(batch);
  out.probabilities = Classify(out.features);
  return out;
}

}  // namespace fer
