#ifndef FERSERVE_LIB_MODEL_NATIVE_SSD_MOBILENET_V1_H_
#define FERSERVE_LIB_MODEL_NATIVE_SSD_MOBILENET_V1_H_

#include <array>

#include "lib/kernels/conv_program.h"

namespace fer {

// The network of face-api's SsdMobilenetv1 (see ssd_mobilenet_v1.h):
// MobileNetV1, the prediction layers and the six box predictors, on
// ferserve's fused CPU kernels (each depthwise 3x3 + batch norm + ReLU6 +
// pointwise 1x1 + offset + ReLU6 pair is one pass). One 512x512 image at a
// time, each layer's rows split between LibTorch's intra-op threads.
// Immutable; Forward is thread-safe.
class NativeSsdMobilenetv1 {
 public:
  static constexpr int kInputSize = 512;
  static constexpr int kNumPriors = 5118;

  // Weights in TensorFlow's layouts.
  struct ConvWeights {               // k x k conv (k = 1 or 3) + offset, ReLU6
    const float* filters = nullptr;  // [k, k, in, out]
    const float* offset = nullptr;   // [out]
    int in = 0, out = 0, size = 1;
  };
  struct DepthwiseWeights {          // depthwise 3x3, batch norm, ReLU6
    const float* filters = nullptr;  // [3, 3, channels, 1]
    const float* mean = nullptr;
    const float* scale = nullptr;  // gamma / sqrt(variance + epsilon)
    const float* offset = nullptr;
    int channels = 0;
  };
  struct BoxPredictorWeights {             // two 1x1 convs with bias
    const float* box_filters = nullptr;    // [1, 1, in, anchors * 4]
    const float* box_bias = nullptr;       // [anchors * 4]
    const float* class_filters = nullptr;  // [1, 1, in, anchors * 3]
    const float* class_bias = nullptr;     // [anchors * 3]
    int in = 0, anchors = 0;
  };
  struct Weights {
    ConvWeights conv0;  // 3x3, stride 2
    std::array<DepthwiseWeights, 13> depthwise;
    std::array<ConvWeights, 13> pointwise;
    std::array<ConvWeights, 8> prediction;  // odd ones 3x3 stride 2
    std::array<BoxPredictorWeights, 6> box_predictors;
  };

  explicit NativeSsdMobilenetv1(const Weights& weights);

  // `image`: 512 x 512 x 3 RGB values in 0..255 (NHWC). Writes the box
  // encodings [5118][4] and class logits [5118][3] in face-api's order (box
  // predictor by predictor, then cell by cell, anchor by anchor).
  void Forward(const float* image, float* encodings, float* logits) const;

  double multiply_adds() const { return program_.multiply_adds(); }

 private:
  kernels::ConvProgram program_;
  // Activations of the Forward calls in flight (about 40 MB each).
  mutable kernels::ConvProgram::WorkspacePool workspaces_{&program_};
  // Slot of each box predictor's output: per cell, anchors x 4 encodings
  // then anchors x 3 logits.
  std::array<int, 6> predictor_slots_{};
  std::array<int, 6> anchors_{};
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_NATIVE_SSD_MOBILENET_V1_H_
