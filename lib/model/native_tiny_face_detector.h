#ifndef FERSERVE_LIB_MODEL_NATIVE_TINY_FACE_DETECTOR_H_
#define FERSERVE_LIB_MODEL_NATIVE_TINY_FACE_DETECTOR_H_

#include <array>

#include "lib/kernels/conv_program.h"

namespace fer {

// The network of face-api's TinyFaceDetector (see tiny_face_detector.h) on
// ferserve's fused CPU kernels: the 3x3 'valid' conv with its leaky ReLU,
// five depthwise-separable convs (depthwise 3x3 + pointwise 1x1 + bias +
// leaky ReLU, one pass each), the 2x2 max pools between them and the 1x1
// conv to the box grid. One S x S image at a time, each layer's rows split
// between LibTorch's intra-op threads. Immutable; Forward is thread-safe.
class NativeTinyFaceDetector {
 public:
  static constexpr int kGridChannels = 25;  // 5 anchors x (x, y, w, h, score)

  // Weights in TensorFlow's layouts.
  struct SeparableWeights {
    const float* depthwise = nullptr;  // [3, 3, in, 1]
    const float* pointwise = nullptr;  // [1, 1, in, out]
    const float* bias = nullptr;       // [out]
    int in = 0, out = 0;
  };
  struct Weights {
    const float* mean_rgb = nullptr;       // [3], subtracted before / 255
    const float* conv0_filters = nullptr;  // [3, 3, 3, 16]
    const float* conv0_bias = nullptr;     // [16]
    std::array<SeparableWeights, 5> convs;
    const float* conv8_filters = nullptr;  // [1, 1, 512, 25]
    const float* conv8_bias = nullptr;     // [25]
  };

  // `input_size`: a positive multiple of 32.
  NativeTinyFaceDetector(const Weights& weights, int input_size);

  // `image`: S x S x 3 RGB values in 0..255 (NHWC). Writes the grid
  // [S/32][S/32][25] (per cell, anchor by anchor: x, y, width, height
  // encodings and the score logit).
  void Forward(const float* image, float* grid) const;

  int grid_size() const { return grid_size_; }
  double multiply_adds() const { return program_.multiply_adds(); }

 private:
  kernels::ConvProgram program_;
  mutable kernels::ConvProgram::WorkspacePool workspaces_{&program_};
  kernels::RgbNormalization normalization_;  // normalize(meanRgb), then div(255)
  int input_size_;
  int output_slot_ = 0;
  int grid_size_ = 0;
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_NATIVE_TINY_FACE_DETECTOR_H_
