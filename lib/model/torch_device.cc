#include "lib/model/torch_device.h"

#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fer {

absl::StatusOr<torch::Device> ToTorchDevice(const ModelDevice& device) {
  const std::string& name = device.name;
  if (name.empty() || name == "cpu") return torch::Device(torch::kCPU);
  int index = 0;
  if (name != "cuda") {
    const std::string prefix = "cuda:";
    if (name.rfind(prefix, 0) != 0 || !absl::SimpleAtoi(name.substr(prefix.size()), &index) ||
        index < 0 || !std::isdigit(static_cast<unsigned char>(name[prefix.size()]))) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown model device '", name, "' (expected cpu, cuda or cuda:N)"));
    }
  }
  if (!torch::cuda::is_available()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model device '", name, "' requested, but CUDA is not available to LibTorch here"));
  }
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model device '", name, "' requested, but only ", count, " CUDA device(s) exist"));
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

void RequireFullFloat32(const torch::Device& device) {
  if (!device.is_cuda()) return;
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
}

}  // namespace fer
