#include "lib/model/face_types.h"

#include <algorithm>

#include "lib/kernels/isa.h"

namespace fer {

float IoU(const Box& a, const Box& b) {
  const float x0 = std::max(a.x, b.x);
  const float y0 = std::max(a.y, b.y);
  const float x1 = std::min(a.x + a.width, b.x + b.width);
  const float y1 = std::min(a.y + a.height, b.y + b.height);
  const float inter = std::max(0.f, x1 - x0) * std::max(0.f, y1 - y0);
  const float uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0.f;
}

bool ParseCpuKernels(const std::string& name, CpuKernels* kernels) {
  if (name == "auto") {
    *kernels = CpuKernels::kAuto;
  } else if (name == "native") {
    *kernels = CpuKernels::kNative;
  } else if (name == "libtorch") {
    *kernels = CpuKernels::kLibTorch;
  } else {
    return false;
  }
  return true;
}

const char* CpuKernelsName(CpuKernels kernels) {
  switch (kernels) {
    case CpuKernels::kAuto:
      return "auto";
    case CpuKernels::kNative:
      return "native";
    case CpuKernels::kLibTorch:
      return "libtorch";
  }
  return "unknown";
}

bool UsesFusedKernels(CpuKernels kernels) {
  switch (kernels) {
    case CpuKernels::kAuto:
      return kernels::BestIsa() != kernels::Isa::kGeneric;
    case CpuKernels::kNative:
      return true;
    case CpuKernels::kLibTorch:
      return false;
  }
  return false;
}

}  // namespace fer
