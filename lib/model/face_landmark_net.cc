#include "lib/model/face_landmark_net.h"

#include <algorithm>
#include <cmath>

#include "lib/model/status_macros.h"

namespace fer {

absl::StatusOr<FaceLandmarkNet> FaceLandmarkNet::Load(const std::string& model_dir,
                                                      const torch::Device& device,
                                                      CpuKernels cpu_kernels) {
  FER_ASSIGN_OR_RETURN(WeightMap weights, LoadFaceApiWeights(model_dir, kModelName));
  return FromWeightMap(weights, device, cpu_kernels);
}

absl::StatusOr<FaceLandmarkNet> FaceLandmarkNet::FromWeightMap(WeightMap& weights,
                                                               const torch::Device& device,
                                                               CpuKernels cpu_kernels) {
  FER_ASSIGN_OR_RETURN(FaceFeatureExtractor extractor,
                       FaceFeatureExtractor::FromWeightMap(weights, device, cpu_kernels));
  FER_ASSIGN_OR_RETURN(
      torch::Tensor fc_weights,
      weights.TakeFloat("fc/weights", {FaceFeatureExtractor::kFeatureDim, 2 * kNumPoints}));
  FER_ASSIGN_OR_RETURN(torch::Tensor fc_bias, weights.TakeFloat("fc/bias", {2 * kNumPoints}));
  FER_RETURN_IF_ERROR(weights.CheckAllUsed());
  return FaceLandmarkNet(std::move(extractor), fc_weights.to(device), fc_bias.to(device));
}

torch::Tensor FaceLandmarkNet::ForwardRaw(const torch::Tensor& batch) const {
  c10::InferenceMode inference;
  return torch::matmul(extractor_.Forward(batch), fc_weights_) + fc_bias_;
}

torch::Tensor FaceLandmarkNet::PostProcess(const torch::Tensor& raw, int input_size,
                                           const std::vector<CropSize>& crops) {
  TORCH_CHECK(raw.dim() == 2 && raw.size(1) == 2 * kNumPoints &&
                  raw.size(0) == static_cast<int64_t>(crops.size()),
              "PostProcess expects [B, 136] and B crop sizes");
  const torch::Tensor in = raw.to(torch::kCPU, torch::kFloat32).contiguous();
  torch::Tensor out = torch::empty_like(in);
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  const float size = static_cast<float>(input_size);
  for (size_t b = 0; b < crops.size(); ++b) {
    // Doubles as in JavaScript, then float32 as tf.fill(..., 'float32').
    const double width = crops[b].width;
    const double height = crops[b].height;
    const double scale = input_size / std::max(height, width);
    const double scaled_w = width * scale;
    const double scaled_h = height * scale;
    const double pad_x = scaled_w < scaled_h ? std::abs(scaled_w - scaled_h) / 2 : 0;
    const double pad_y = scaled_h < scaled_w ? std::abs(scaled_w - scaled_h) / 2 : 0;
    const float pad[2] = {static_cast<float>(pad_x), static_cast<float>(pad_y)};
    const float dim[2] = {static_cast<float>(scaled_w), static_cast<float>(scaled_h)};
    for (int i = 0; i < 2 * kNumPoints; ++i) {
      const int64_t k = static_cast<int64_t>(b) * 2 * kNumPoints + i;
      // Three float32 tensor ops: mul, sub, div.
      volatile float scaled = src[k] * size;
      volatile float shifted = scaled - pad[i % 2];
      dst[k] = shifted / dim[i % 2];
    }
  }
  return out;
}

torch::Tensor FaceLandmarkNet::DetectRelative(const torch::Tensor& batch,
                                              const std::vector<CropSize>& crops) const {
  return PostProcess(ForwardRaw(batch), FaceFeatureExtractor::kInputSize, crops);
}

}  // namespace fer
