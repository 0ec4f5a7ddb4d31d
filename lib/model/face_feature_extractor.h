#ifndef FERSERVE_LIB_MODEL_FACE_FEATURE_EXTRACTOR_H_
#define FERSERVE_LIB_MODEL_FACE_FEATURE_EXTRACTOR_H_

#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/model/face_types.h"
#include "lib/model/tf_ops.h"
#include "lib/model/weight_map.h"

namespace fer {

class NativeFeatureExtractor;

// face-api's FaceFeatureExtractor (src/faceFeatureExtractor): four
// denseBlock4 stages (32, 64, 128, 256 channels, each halving the size; the
// first opens with a plain conv, the others with separable convs) and a 7x7
// average pool: a 112x112 RGB face -> 256 features. Immutable after
// construction; Forward is thread-safe. On the CPU it runs on
// NativeFeatureExtractor's fused kernels when UsesFusedKernels says so.
class FaceFeatureExtractor {
 public:
  static constexpr int kInputSize = 112;
  static constexpr int kFeatureDim = 256;

  // Takes dense0..dense3 from `weights` (face-api's tensor names), converting
  // them once to torch layout on `device` (and packing them for the fused
  // kernels on the CPU).
  static absl::StatusOr<FaceFeatureExtractor> FromWeightMap(
      WeightMap& weights, const torch::Device& device, CpuKernels cpu_kernels = CpuKernels::kAuto);

  // `batch`: [B, 112, 112, 3] float32 RGB values in 0..255 (NHWC, as face-api's
  // NetInput.toBatchTensor), on any device. Returns [B, 256] on device():
  // face-api's normalization ((x - mean RGB) / 255) and network.
  torch::Tensor Forward(const torch::Tensor& batch) const;

  const torch::Device& device() const { return device_; }

  // The fused-kernel network, or null when Forward runs on LibTorch.
  const NativeFeatureExtractor* native() const { return native_.get(); }

 private:
  struct DenseBlock {
    // conv0 of the first block is a plain conv (filters + bias); of the others
    // a separable conv.
    torch::Tensor conv0_weight, conv0_bias;
    tf::SeparableConv conv0;
    std::array<tf::SeparableConv, 3> convs;  // conv1..conv3
  };

  explicit FaceFeatureExtractor(const torch::Device& device) : device_(device) {}
  torch::Tensor RunDenseBlock(const torch::Tensor& x, const DenseBlock& block, bool first) const;

  torch::Device device_;
  // The network on LibTorch (unset when it runs on the fused kernels).
  torch::Tensor mean_rgb_;  // [1, 3, 1, 1]
  torch::Tensor divisor_;   // 255, a tensor so that CUDA divides (not multiplies by 1/255)
  std::array<DenseBlock, 4> blocks_;
  // The network on the fused kernels, or null.
  std::shared_ptr<const NativeFeatureExtractor> native_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_FACE_FEATURE_EXTRACTOR_H_
