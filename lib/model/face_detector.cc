#include "lib/model/face_detector.h"

#include "absl/strings/str_cat.h"
#include "lib/model/ssd_mobilenet_v1.h"
#include "lib/model/status_macros.h"
#include "lib/model/tiny_face_detector.h"
#include "lib/model/torch_device.h"

namespace fer {

absl::StatusOr<std::unique_ptr<FaceDetector>> LoadFaceDetector(const std::string& name,
                                                               const std::string& model_dir,
                                                               const ModelDevice& device) {
  if (name != SsdMobilenetv1::kName && name != TinyFaceDetector::kName) {
    return absl::InvalidArgumentError(absl::StrCat("unknown face detector '", name, "' (expected ",
                                                   SsdMobilenetv1::kName, " or ",
                                                   TinyFaceDetector::kName, ")"));
  }
  FER_ASSIGN_OR_RETURN(const torch::Device torch_device, ToTorchDevice(device));
  if (name == SsdMobilenetv1::kName) {
    FER_ASSIGN_OR_RETURN(std::unique_ptr<SsdMobilenetv1> detector,
                         SsdMobilenetv1::Load(model_dir, torch_device, device.cpu_kernels));
    return std::unique_ptr<FaceDetector>(std::move(detector));
  }
  FER_ASSIGN_OR_RETURN(
      std::unique_ptr<TinyFaceDetector> detector,
      TinyFaceDetector::Load(model_dir, torch_device, TinyFaceDetector::kDefaultInputSize,
                             device.cpu_kernels));
  return std::unique_ptr<FaceDetector>(std::move(detector));
}

}  // namespace fer
