#ifndef FERSERVE_LIB_MODEL_FACE_LANDMARK_NET_H_
#define FERSERVE_LIB_MODEL_FACE_LANDMARK_NET_H_

#include <torch/torch.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_feature_extractor.h"
#include "lib/model/weight_map.h"

namespace fer {

// Size in pixels of a face crop before it was padded to a square and resized.
struct CropSize {
  int width = 0;
  int height = 0;
};

// face-api's FaceLandmark68Net (src/faceLandmarkNet): the feature extractor
// with its own weights, then FC 256 -> 136 = 68 (x, y) pairs relative to the
// padded, resized square input; PostProcess maps them back to the original
// crop. Immutable after construction; all methods are thread-safe.
class FaceLandmarkNet {
 public:
  static constexpr const char* kModelName = "face_landmark_68_model";
  static constexpr int kNumPoints = 68;

  // Loads `<model_dir>/face_landmark_68_model-weights_manifest.json`.
  static absl::StatusOr<FaceLandmarkNet> Load(const std::string& model_dir,
                                              const torch::Device& device,
                                              CpuKernels cpu_kernels = CpuKernels::kAuto);
  static absl::StatusOr<FaceLandmarkNet> FromWeightMap(WeightMap& weights,
                                                       const torch::Device& device,
                                                       CpuKernels cpu_kernels = CpuKernels::kAuto);

  // `batch`: [B, 112, 112, 3] float32 RGB 0..255 (see FaceFeatureExtractor).
  // Returns the raw FC output [B, 136] (x0, y0, x1, y1, ...) on device().
  torch::Tensor ForwardRaw(const torch::Tensor& batch) const;

  // face-api's FaceLandmark68NetBase.postProcess, in float32 as TF.js does it:
  // for a crop of w x h scaled by s = input_size / max(w, h),
  //   x_rel = (x_raw * input_size - padX) / (w * s), padX = (h - w) * s / 2 if w < h,
  //   y_rel = (y_raw * input_size - padY) / (h * s), padY = (w - h) * s / 2 if h < w.
  // Note: face-api assumes an exactly centered padding here even when
  // padToSquare split an odd difference unevenly. `raw`: [B, 136];
  // `crops.size()` == B. Returns [B, 136] float32 on the CPU: positions as
  // fractions of the original crop's width / height.
  static torch::Tensor PostProcess(const torch::Tensor& raw, int input_size,
                                   const std::vector<CropSize>& crops);

  // ForwardRaw + PostProcess.
  torch::Tensor DetectRelative(const torch::Tensor& batch,
                               const std::vector<CropSize>& crops) const;

  const FaceFeatureExtractor& extractor() const { return extractor_; }
  const torch::Device& device() const { return extractor_.device(); }

 private:
  FaceLandmarkNet(FaceFeatureExtractor extractor, torch::Tensor fc_weights, torch::Tensor fc_bias)
      : extractor_(std::move(extractor)),
        fc_weights_(std::move(fc_weights)),
        fc_bias_(std::move(fc_bias)) {}

  FaceFeatureExtractor extractor_;
  torch::Tensor fc_weights_;  // [256, 136]
  torch::Tensor fc_bias_;     // [136]
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_FACE_LANDMARK_NET_H_
