#ifndef FERSERVE_LIB_MODEL_SSD_MOBILENET_V1_H_
#define FERSERVE_LIB_MODEL_SSD_MOBILENET_V1_H_

#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_detector.h"
#include "lib/model/face_types.h"
#include "lib/model/weight_map.h"
#include "lib/vision/image.h"

namespace fer {

class NativeSsdMobilenetv1;

// face-api's SsdMobilenetv1 face detector (src/ssdMobilenetv1) on LibTorch:
// MobileNetV1 (TF 'same' padding, batch norm, ReLU6) + six SSD box
// predictors over 5118 prior boxes, box decoding with the priors stored in
// the weights (`Output/extra_dim`), face-api's own non-max suppression
// (IoU 0.5) and its mapping of boxes back to the image.
//
// Detect() gives what face-api's
//   detectAllFaces(img, new SsdMobilenetv1Options({minConfidence, maxResults}))
// gives for the same pixels: the image padded to a square at the
// bottom/right, resized to 512x512 (TF resizeBilinear), scaled to [-1, 1].
// Boxes are in image pixels and, as in face-api, not clipped to the image:
// left and top are clamped at 0 and right and bottom at the edge of the
// padded square, so along the image's shorter side a box can overhang the
// image into the zero padding (a face cut by the bottom edge of a landscape
// photo, or low-scoring boxes in the padding itself). face-api clips only
// when it crops faces (Box.clipAtImageBorders).
//
// Immutable after loading; Detect and Forward are thread-safe.
class SsdMobilenetv1 : public FaceDetector {
 public:
  static constexpr const char* kName = "ssd_mobilenetv1";
  static constexpr const char* kModelName = "ssd_mobilenetv1_model";
  static constexpr int kInputSize = 512;
  static constexpr int kNumPriors = 5118;
  static constexpr double kIouThreshold = 0.5;

  // Loads `<model_dir>/ssd_mobilenetv1_model-weights_manifest.json` onto
  // `device` (torch device; see ToTorchDevice).
  // On the CPU the network runs on NativeSsdMobilenetv1's fused kernels
  // when UsesFusedKernels(cpu_kernels) says so.
  static absl::StatusOr<std::unique_ptr<SsdMobilenetv1>> Load(
      const std::string& model_dir, const torch::Device& device,
      CpuKernels cpu_kernels = CpuKernels::kAuto);
  // Builds the detector from decoded weights; fails when a tensor is missing
  // or mis-shaped, or when a float tensor face-api would use is left over.
  static absl::StatusOr<std::unique_ptr<SsdMobilenetv1>> FromWeightMap(
      WeightMap& weights, const torch::Device& device, CpuKernels cpu_kernels = CpuKernels::kAuto);

  ~SsdMobilenetv1() override;

  std::string name() const override { return kName; }

  // All faces scoring above options.min_score, at most options.max_results,
  // best first. InvalidArgument for an empty/inconsistent image or options
  // outside face-api's ranges (0 < min_score < 1, max_results >= 1).
  absl::StatusOr<std::vector<FaceDetection>> Detect(const RgbImage& image,
                                                    const DetectOptions& options) override;

  // The network and box decoding (face-api's forwardInput) on a batch
  // [B, 512, 512, 3] of float32 RGB values in 0..255 (NHWC). Returns CPU
  // float32 tensors: `boxes` [B, 5118, 4] as [ymin, xmin, ymax, xmax]
  // relative to the 512 square, `scores` [B, 5118] (sigmoid of the face
  // class).
  struct Output {
    torch::Tensor boxes;
    torch::Tensor scores;
  };
  Output Forward(const torch::Tensor& batch) const;

  const torch::Device& device() const { return device_; }

  // The fused-kernel network, or null when Forward runs on LibTorch.
  const NativeSsdMobilenetv1* native() const { return native_.get(); }

 private:
  struct PointwiseConv {  // conv (TF 'same') + offset, ReLU6
    torch::Tensor weight, offset;
  };
  struct DepthwiseConv {  // depthwise 3x3 + batch norm, ReLU6
    torch::Tensor weight, mean, inv_std_scale, offset;
  };
  struct ConvPair {
    DepthwiseConv depthwise;
    PointwiseConv pointwise;
  };
  struct BoxPredictor {  // two 1x1 convs with bias
    torch::Tensor box_weight, box_bias, class_weight, class_bias;
  };

  class WeightLoader;  // takes each layer's tensors from a WeightMap

  explicit SsdMobilenetv1(const torch::Device& device) : device_(device) {}
  // The network on LibTorch: box encodings [B, 5118, 4] and class logits
  // [B, 5118, 3], on the CPU.
  std::pair<torch::Tensor, torch::Tensor> RunTorchNetwork(const torch::Tensor& batch) const;
  static torch::Tensor RunPointwise(const torch::Tensor& x, const PointwiseConv& conv,
                                    int64_t stride);
  static torch::Tensor RunDepthwise(const torch::Tensor& x, const DepthwiseConv& conv,
                                    int64_t stride);

  torch::Device device_;
  torch::Tensor divisor_;  // 127.5 as a tensor: a true division, as TF.js does
  // The network on LibTorch (unset when native_ runs it).
  PointwiseConv conv0_;
  std::array<ConvPair, 13> pairs_;              // MobilenetV1 conv_1..conv_13
  std::array<PointwiseConv, 8> prediction_;     // Prediction conv_0..conv_7
  std::array<BoxPredictor, 6> box_predictors_;  // BoxPredictor_0..5
  std::vector<std::array<float, 4>> priors_;    // Output/extra_dim, [5118][4]
  std::shared_ptr<const NativeSsdMobilenetv1> native_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_SSD_MOBILENET_V1_H_
