#ifndef FERSERVE_LIB_MODEL_NATIVE_FEATURE_EXTRACTOR_H_
#define FERSERVE_LIB_MODEL_NATIVE_FEATURE_EXTRACTOR_H_

#include <array>

#include "lib/kernels/conv_program.h"

namespace fer {

// face-api's FaceFeatureExtractor (see face_feature_extractor.h) on
// ferserve's fused CPU kernels: each separable conv is one pass (depthwise,
// pointwise, bias, the dense block's running sum and ReLU fused), and each
// face runs through the whole network while its activations stay in the
// cache. Batches run one face per thread; the faces left over when the
// batch does not divide by the thread count run with each layer's rows
// split between the threads. Immutable; Forward is thread-safe.
class NativeFeatureExtractor {
 public:
  static constexpr int kInputSize = 112;
  static constexpr int kFeatureDim = 256;

  // Weights in TensorFlow's layouts, as face-api stores them.
  struct SeparableConvWeights {
    const float* depthwise = nullptr;  // [3, 3, in, 1]
    const float* pointwise = nullptr;  // [1, 1, in, out]
    const float* bias = nullptr;       // [out]
  };
  struct DenseBlockWeights {
    const float* conv0_filters = nullptr;  // first block: [3, 3, 3, 32]
    const float* conv0_bias = nullptr;     // first block: [32]
    SeparableConvWeights conv0;            // other blocks
    std::array<SeparableConvWeights, 3> convs;
  };

  // Blocks of 32, 64, 128 and 256 channels (copied and packed).
  explicit NativeFeatureExtractor(const std::array<DenseBlockWeights, 4>& blocks);

  // `batch`: n x 112 x 112 x 3 RGB values in 0..255 (NHWC); writes n x 256
  // features. Uses LibTorch's intra-op threads.
  void Forward(const float* batch, int n, float* features) const;

  // Multiply-adds per face.
  double multiply_adds() const { return program_.multiply_adds(); }

 private:
  // One face: `image` normalized into slot 0, the network, the pooled
  // features.
  void RunFace(const float* image, kernels::ConvProgram::Workspace& workspace, float* features,
               const kernels::ConvProgram::RowSplitter& split) const;

  kernels::ConvProgram program_;
  // Activations of the runs in flight (one per thread running whole faces).
  mutable kernels::ConvProgram::WorkspacePool workspaces_{&program_};
  int output_slot_ = 0;
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_NATIVE_FEATURE_EXTRACTOR_H_
