#include "lib/model/native_feature_extractor.h"

#include <algorithm>

#include "lib/model/intra_op_parallel.h"

namespace fer {
namespace {

using kernels::Activation;
using kernels::ConvProgram;
using kernels::DepthwiseFilter;
using kernels::PackedMatrix;

constexpr std::array<int, 4> kChannels = {32, 64, 128, 256};
// face-api's normalize(meanRgb), then div(255).
constexpr kernels::RgbNormalization kNormalization{{122.782f, 117.001f, 104.298f}, 255.0f};

}  // namespace

NativeFeatureExtractor::NativeFeatureExtractor(const std::array<DenseBlockWeights, 4>& blocks)
    : program_({kInputSize, kInputSize, 3}) {
  // Two slots in turn: the block's running sum S (out1 + out2 + ...) and the
  // next one. A separable conv reads relu(S), adds S to its output, and
  // writes the new S; face-api's relu(out1 + (out2 + out3)) is relu(S) here.
  const int first = program_.NewSlot(), second = program_.NewSlot();
  int sum = 0;  // slot 0 holds the normalized input
  auto next_slot = [&]() { return sum == first ? second : first; };
  int in = 3;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const DenseBlockWeights& block = blocks[b];
    const int out = kChannels[b];
    int dst = next_slot();
    if (b == 0) {
      program_.Conv3x3(sum, dst, 2,
                       PackedMatrix(block.conv0_filters, 9 * in, out, block.conv0_bias),
                       Activation::kRelu);
    } else {
      // The previous block's output is relu(S).
      program_.Separable(
          sum, dst, 2, /*relu_input=*/true, DepthwiseFilter(block.conv0.depthwise, in),
          PackedMatrix(block.conv0.pointwise, in, out, block.conv0.bias), Activation::kRelu);
    }
    sum = dst;  // out1, already >= 0
    for (size_t c = 0; c < block.convs.size(); ++c) {
      const SeparableConvWeights& conv = block.convs[c];
      dst = next_slot();
      program_.Separable(sum, dst, 1, /*relu_input=*/c > 0, DepthwiseFilter(conv.depthwise, out),
                         PackedMatrix(conv.pointwise, out, out, conv.bias), Activation::kNone,
                         /*residual=*/sum);
      sum = dst;
    }
    in = out;
  }
  output_slot_ = sum;  // the last block's S; its output is relu(S)
}

void NativeFeatureExtractor::RunFace(const float* image, ConvProgram::Workspace& workspace,
                                     float* features, const ConvProgram::RowSplitter& split) const {
  const kernels::ImageView input = workspace.slot(0, program_.shape(0));
  kernels::NormalizeRgb(image, static_cast<long>(kInputSize) * kInputSize, kNormalization,
                        input.data, program_.isa());
  program_.Run(workspace, split);
  // relu, then tf.avgPool 7x7 'valid' over the 7x7 map.
  const ConvProgram::Shape& shape = program_.shape(output_slot_);
  const float* s = workspace.slot(output_slot_, shape).data;
  const int count = shape.height * shape.width;
  for (int c = 0; c < shape.channels; ++c) {
    double total = 0;
    for (int p = 0; p < count; ++p) total += std::max(s[p * shape.channels + c], 0.0f);
    features[c] = static_cast<float>(total / count);
  }
}

void NativeFeatureExtractor::Forward(const float* batch, int n, float* features) const {
  const long image_floats = static_cast<long>(kInputSize) * kInputSize * 3;
  const int threads = IntraOpThreads();
  // Whole faces per thread for as many as divide evenly; the rest split rows.
  const int whole = threads == 1 ? n : (n / threads) * threads;
  if (whole > 0) {
    IntraOpParallelFor(whole, (whole + threads - 1) / threads, [&](int64_t begin, int64_t end) {
      const ConvProgram::WorkspacePool::Lease workspace = workspaces_.Take();
      for (int64_t i = begin; i < end; ++i) {
        RunFace(batch + i * image_floats, *workspace, features + i * kFeatureDim, nullptr);
      }
    });
  }
  if (whole < n) {
    const ConvProgram::WorkspacePool::Lease workspace = workspaces_.Take();
    const ConvProgram::RowSplitter split = IntraOpRowSplitter();
    for (int i = whole; i < n; ++i) {
      RunFace(batch + i * image_floats, *workspace, features + static_cast<long>(i) * kFeatureDim,
              split);
    }
  }
}

}  // namespace fer
