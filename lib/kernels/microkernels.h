#ifndef FERSERVE_LIB_KERNELS_MICROKERNELS_H_
#define FERSERVE_LIB_KERNELS_MICROKERNELS_H_

#include "lib/kernels/conv_kernels.h"

// The instruction-set-specific inner loops behind conv_kernels.h, one table
// per set (microkernels_impl.inc compiled once per set). Internal to
// lib/kernels.
namespace fer::kernels::internal {

// c[m][n] = stage(a[m][k] x b[k][n] + bias), b packed as PackedMatrix.
// Row i of a may lie in `segments` equal runs of k / segments floats,
// segment_offset floats apart: a[i][s * (k / segments) + j] is
// a[i * lda + s * segment_offset + j] (a 3x3 window read straight from an
// image: one run per window row).
struct GemmArgs {
  int m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int lda = 0;
  int segments = 1;
  long segment_offset = 0;
  const float* panels = nullptr;
  const float* bias = nullptr;      // padded to whole panels
  const float* residual = nullptr;  // m x n with row stride ldr, or null
  int ldr = 0;
  Activation activation = Activation::kNone;
  float* c = nullptr;
  int ldc = 0;
};

// Depthwise 3x3 'same' output rows [row_begin, row_end) of one image into
// d[(row - row_begin) * out_width + x][channel].
struct DepthwiseArgs {
  const float* in = nullptr;
  int height = 0, width = 0, channels = 0;  // channels % 16 == 0
  int stride = 1;
  int pad_top = 0, pad_left = 0;
  int out_width = 0;
  bool relu_input = false;
  const float* taps = nullptr;  // [9][channels]
  const float* mean = nullptr;  // batch norm, or null
  const float* scale = nullptr;
  const float* offset = nullptr;
  Activation activation = Activation::kNone;
  int row_begin = 0, row_end = 0;
  float* d = nullptr;
};

// NormalizeRgb's arguments.
struct NormalizeArgs {
  const float* in = nullptr;
  long pixels = 0;
  RgbNormalization normalization;
  float* out = nullptr;
};

struct KernelTable {
  void (*gemm)(const GemmArgs& args);
  void (*depthwise)(const DepthwiseArgs& args);
  void (*normalize_rgb)(const NormalizeArgs& args);
};

const KernelTable& GenericKernels();
const KernelTable& Avx2Kernels();    // only where IsaSupported(kAvx2)
const KernelTable& Avx512Kernels();  // only where IsaSupported(kAvx512)

}  // namespace fer::kernels::internal

#endif  // FERSERVE_LIB_KERNELS_MICROKERNELS_H_
