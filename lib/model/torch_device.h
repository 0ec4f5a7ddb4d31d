#ifndef FERSERVE_LIB_MODEL_TORCH_DEVICE_H_
#define FERSERVE_LIB_MODEL_TORCH_DEVICE_H_

#include <torch/torch.h>

#include <string>

#include "absl/status/statusor.h"
#include "lib/model/face_types.h"

namespace fer {

// The torch device for a ModelDevice name: "cpu", "cuda" (= "cuda:0") or
// "cuda:N". FailedPrecondition when CUDA is asked for but this LibTorch build
// or machine has none (or fewer than N + 1 GPUs); InvalidArgument for any
// other name.
absl::StatusOr<torch::Device> ToTorchDevice(const ModelDevice& device);

// Makes CUDA convolutions compute in full float32 (no TF32), so that results
// match TF.js to float rounding. Process-wide; a no-op on CPU.
void RequireFullFloat32(const torch::Device& device);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_TORCH_DEVICE_H_
