#include "lib/model/native_ssd_mobilenet_v1.h"

#include <cstdlib>
#include <vector>

#include "lib/model/intra_op_parallel.h"

namespace fer {
namespace {

using kernels::Activation;
using kernels::ConvProgram;
using kernels::DepthwiseFilter;
using kernels::PackedMatrix;

// x / 127.5 - 1.
constexpr kernels::RgbNormalization kNormalization{{0, 0, 0}, 127.5f, /*add_offset=*/true, -1.0f};

// Depthwise convolutions with stride 2 (getStridesForLayerIdx).
bool IsStrideTwo(int layer) { return layer == 2 || layer == 4 || layer == 6 || layer == 12; }

PackedMatrix Pack(const NativeSsdMobilenetv1::ConvWeights& w) {
  return PackedMatrix(w.filters, w.size * w.size * w.in, w.out, w.offset);
}

// The box and class predictors as one 1x1 conv: columns anchors x 4
// encodings, then anchors x 3 logits.
PackedMatrix PackPredictor(const NativeSsdMobilenetv1::BoxPredictorWeights& p) {
  const int box = p.anchors * 4, cls = p.anchors * 3, columns = box + cls;
  std::vector<float> filters(static_cast<size_t>(p.in) * columns);
  std::vector<float> bias(columns);
  for (int i = 0; i < p.in; ++i) {
    for (int j = 0; j < box; ++j) filters[i * columns + j] = p.box_filters[i * box + j];
    for (int j = 0; j < cls; ++j) filters[i * columns + box + j] = p.class_filters[i * cls + j];
  }
  for (int j = 0; j < box; ++j) bias[j] = p.box_bias[j];
  for (int j = 0; j < cls; ++j) bias[box + j] = p.class_bias[j];
  return PackedMatrix(filters.data(), p.in, columns, bias.data());
}

}  // namespace

NativeSsdMobilenetv1::NativeSsdMobilenetv1(const Weights& w)
    : program_({kInputSize, kInputSize, 3}) {
  const int a = program_.NewSlot(), b = program_.NewSlot(), conv11 = program_.NewSlot();
  if (w.conv0.size != 3) std::abort();
  program_.Conv3x3(0, a, 2, Pack(w.conv0), Activation::kRelu6);
  int x = a;
  for (int i = 0; i < 13; ++i) {
    const int layer = i + 1;
    const DepthwiseWeights& dw = w.depthwise[i];
    if (w.pointwise[i].size != 1) std::abort();
    DepthwiseFilter filter(dw.filters, dw.channels);
    filter.WithBatchNorm(dw.mean, dw.scale, dw.offset, Activation::kRelu6);
    const int dst = layer == 11 ? conv11 : (x == a ? b : a);
    program_.Separable(x, dst, IsStrideTwo(layer) ? 2 : 1, /*relu_input=*/false, std::move(filter),
                       Pack(w.pointwise[i]), Activation::kRelu6);
    x = dst;
  }
  // predictionLayer: 1x1 and 3x3 stride-2 convs in turn; the stride-2
  // outputs feed box predictors 2..5.
  std::array<int, 6> sources = {conv11, x, 0, 0, 0, 0};
  int in = x;
  for (int i = 0; i < 8; ++i) {
    const int dst = program_.NewSlot();
    if (i % 2 == 0) {
      if (w.prediction[i].size != 1) std::abort();
      program_.Pointwise(in, dst, Pack(w.prediction[i]), Activation::kRelu6);
    } else {
      if (w.prediction[i].size != 3) std::abort();
      program_.Conv3x3(in, dst, 2, Pack(w.prediction[i]), Activation::kRelu6);
      sources[2 + i / 2] = dst;
    }
    in = dst;
  }
  for (int i = 0; i < 6; ++i) {
    predictor_slots_[i] = program_.NewSlot();
    anchors_[i] = w.box_predictors[i].anchors;
    program_.Pointwise(sources[i], predictor_slots_[i], PackPredictor(w.box_predictors[i]),
                       Activation::kNone);
  }
  int priors = 0;
  for (int i = 0; i < 6; ++i) {
    const ConvProgram::Shape& s = program_.shape(predictor_slots_[i]);
    priors += s.height * s.width * anchors_[i];
  }
  if (priors != kNumPriors) std::abort();
}

void NativeSsdMobilenetv1::Forward(const float* image, float* encodings, float* logits) const {
  const ConvProgram::WorkspacePool::Lease lease = workspaces_.Take();
  ConvProgram::Workspace& workspace = *lease;
  const kernels::ImageView input = workspace.slot(0, program_.shape(0));
  kernels::NormalizeRgb(image, static_cast<long>(kInputSize) * kInputSize, kNormalization,
                        input.data, program_.isa());
  program_.Run(workspace, IntraOpRowSplitter());
  for (int i = 0; i < 6; ++i) {
    const ConvProgram::Shape& s = program_.shape(predictor_slots_[i]);
    const float* out = workspace.slot(predictor_slots_[i], s).data;
    const int anchors = anchors_[i];
    const int cells = s.height * s.width;
    for (int cell = 0; cell < cells; ++cell) {
      const float* row = out + static_cast<long>(cell) * s.channels;
      for (int k = 0; k < anchors * 4; ++k) *encodings++ = row[k];
      for (int k = 0; k < anchors * 3; ++k) *logits++ = row[anchors * 4 + k];
    }
  }
}

}  // namespace fer
