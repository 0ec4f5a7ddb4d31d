#include "lib/model/native_tiny_face_detector.h"

#include <algorithm>
#include <cstdlib>

#include "lib/model/intra_op_parallel.h"

namespace fer {

using kernels::Activation;
using kernels::DepthwiseFilter;
using kernels::PackedMatrix;
using kernels::Padding;

NativeTinyFaceDetector::NativeTinyFaceDetector(const Weights& w, int input_size)
    : program_({input_size, input_size, 3}), input_size_(input_size) {
  if (input_size <= 0 || input_size % 32 != 0) std::abort();
  for (int c = 0; c < 3; ++c) normalization_.subtract[c] = w.mean_rgb[c];
  normalization_.divisor = 255.0f;
  const int a = program_.NewSlot(), b = program_.NewSlot();
  auto other = [&](int slot) { return slot == a ? b : a; };
  // runMobilenet with isFirstLayerConv2d: leaky(convLayer(x, conv0, 'valid')),
  // then each layer's maxPool 2x2 'same' (stride 2, the last stride 1), fused
  // with the layer before it.
  program_.Conv3x3(0, a, 1, PackedMatrix(w.conv0_filters, 27, 16, w.conv0_bias), Activation::kLeaky,
                   Padding::kValid);
  program_.ThenMaxPool2x2(a, 2);
  int x = a;
  for (int i = 0; i < 5; ++i) {
    // depthwiseSeparableConv: pad 1 + 'valid' (TF 'same' for 3x3 at stride
    // 1), bias, leaky.
    const SeparableWeights& conv = w.convs[i];
    program_.Separable(
        x, other(x), 1, /*relu_input=*/false, DepthwiseFilter(conv.depthwise, conv.in),
        PackedMatrix(conv.pointwise, conv.in, conv.out, conv.bias), Activation::kLeaky);
    program_.ThenMaxPool2x2(other(x), i < 4 ? 2 : 1);
    x = other(x);
  }
  output_slot_ = program_.NewSlot();
  program_.Pointwise(x, output_slot_,
                     PackedMatrix(w.conv8_filters, 512, kGridChannels, w.conv8_bias),
                     Activation::kNone);
  grid_size_ = program_.shape(output_slot_).height;
  if (grid_size_ != input_size / 32) std::abort();
}

void NativeTinyFaceDetector::Forward(const float* image, float* grid) const {
  const kernels::ConvProgram::WorkspacePool::Lease lease = workspaces_.Take();
  kernels::ConvProgram::Workspace& workspace = *lease;
  const kernels::ImageView input = workspace.slot(0, program_.shape(0));
  kernels::NormalizeRgb(image, static_cast<long>(input_size_) * input_size_, normalization_,
                        input.data, program_.isa());
  program_.Run(workspace, IntraOpRowSplitter());
  const kernels::ImageView out = workspace.slot(output_slot_, program_.shape(output_slot_));
  std::copy(out.data, out.data + program_.shape(output_slot_).floats(), grid);
}

}  // namespace fer
