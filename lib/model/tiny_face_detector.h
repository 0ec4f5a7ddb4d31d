#ifndef FERSERVE_LIB_MODEL_TINY_FACE_DETECTOR_H_
#define FERSERVE_LIB_MODEL_TINY_FACE_DETECTOR_H_

#include <torch/torch.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_detector.h"
#include "lib/model/tf_ops.h"
#include "lib/model/weight_map.h"
#include "lib/vision/image.h"

namespace fer {

class NativeTinyFaceDetector;

// face-api's TinyFaceDetector (src/tinyFaceDetector, built on
// src/tinyYolov2 with separable convolutions) on LibTorch: a 3x3 conv, five
// depthwise-separable convs with leaky ReLU and max pooling, a 1x1 conv to
// 5 anchors x (x, y, w, h, score) per cell; YOLO box decoding with the
// anchors of tinyFaceDetector/const.ts, face-api's non-max suppression
// (IoU 0.4) and its mapping of boxes back to the image.
//
// Detect() gives what face-api's
//   detectAllFaces(img, new TinyFaceDetectorOptions({inputSize, scoreThreshold}))
// gives for the same pixels (scoreThreshold = options.min_score); face-api
// has no result limit here, options.max_results keeps the best ones. Boxes
// are in image pixels and, as in face-api, not clipped to the image: a box
// for a face at the border may start left of or above it or end past it.
//
// Immutable after loading; Detect and Forward are thread-safe.
class TinyFaceDetector : public FaceDetector {
 public:
  static constexpr const char* kName = "tiny_face_detector";
  static constexpr const char* kModelName = "tiny_face_detector_model";
  static constexpr int kDefaultInputSize = 416;  // TinyYolov2Options' default
  static constexpr double kIouThreshold = 0.4;
  static constexpr int kNumAnchors = 5;

  // Loads `<model_dir>/tiny_face_detector_model-weights_manifest.json` onto
  // `device`. `input_size` (face-api's inputSize) must be a positive
  // multiple of 32; larger finds smaller faces, slower. On the CPU the
  // network runs on NativeTinyFaceDetector's fused kernels when
  // UsesFusedKernels(cpu_kernels) says so.
  static absl::StatusOr<std::unique_ptr<TinyFaceDetector>> Load(
      const std::string& model_dir, const torch::Device& device, int input_size = kDefaultInputSize,
      CpuKernels cpu_kernels = CpuKernels::kAuto);
  // Builds the detector from decoded weights; fails when a tensor is missing,
  // mis-shaped or left unused.
  static absl::StatusOr<std::unique_ptr<TinyFaceDetector>> FromWeightMap(
      WeightMap& weights, const torch::Device& device, int input_size = kDefaultInputSize,
      CpuKernels cpu_kernels = CpuKernels::kAuto);

  ~TinyFaceDetector() override;

  std::string name() const override { return kName; }

  // All faces scoring above options.min_score, at most options.max_results,
  // best first. InvalidArgument for an empty/inconsistent image or options
  // outside face-api's ranges (0 < min_score < 1, max_results >= 1).
  absl::StatusOr<std::vector<FaceDetection>> Detect(const RgbImage& image,
                                                    const DetectOptions& options) override;

  // The network (face-api's forwardInput) on [B, S, S, 3] float32 RGB values
  // in 0..255 (NHWC), S a multiple of 32. Returns the raw grid as a CPU
  // float32 tensor [B, S/32, S/32, 5, 5]: per cell and anchor the x, y,
  // width, height encodings and the score logit.
  torch::Tensor Forward(const torch::Tensor& batch) const;

  int input_size() const { return input_size_; }
  const torch::Device& device() const { return device_; }
  // The fused-kernel network, or null when Forward runs on LibTorch.
  const NativeTinyFaceDetector* native() const { return native_.get(); }

 private:
  TinyFaceDetector(const torch::Device& device, int input_size)
      : device_(device), input_size_(input_size) {}

  torch::Device device_;
  int input_size_;
  torch::Tensor mean_rgb_;  // [1, 3, 1, 1]
  torch::Tensor divisor_;   // 255 as a tensor: a true division, as TF.js does
  torch::Tensor conv0_weight_, conv0_bias_;
  std::array<tf::SeparableConv, 5> convs_;  // conv1..conv5
  torch::Tensor conv8_weight_, conv8_bias_;
  std::shared_ptr<const NativeTinyFaceDetector> native_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_TINY_FACE_DETECTOR_H_
