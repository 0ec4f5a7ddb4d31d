#include "lib/model/tf_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace fer::tf {
namespace {

// a + (b - a) * t in double with the product rounded before the sum, as
// JavaScript evaluates it (the volatile forbids contraction into an FMA).
inline double Lerp(double a, double b, double t) {
  volatile double step = (b - a) * t;
  return a + step;
}

}  // namespace

SamePadding ComputeSamePadding(int64_t in_size, int64_t kernel, int64_t stride) {
  const int64_t out_size = (in_size + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out_size - 1) * stride + kernel - in_size, 0);
  return {total / 2, total - total / 2};
}

torch::Tensor ConvFilterToTorch(const torch::Tensor& hwio) {
  TORCH_CHECK(hwio.dim() == 4, "conv filter must be [kh, kw, in, out]");
  return hwio.permute({3, 2, 0, 1}).contiguous();
}

torch::Tensor DepthwiseFilterToTorch(const torch::Tensor& hwim) {
  TORCH_CHECK(hwim.dim() == 4, "depthwise filter must be [kh, kw, in, multiplier]");
  const int64_t kh = hwim.size(0), kw = hwim.size(1), in = hwim.size(2), mult = hwim.size(3);
  // Output channel c * mult + m of a grouped conv is input channel c's m-th
  // filter, as in TF's depthwise_conv2d.
  return hwim.permute({2, 3, 0, 1}).reshape({in * mult, 1, kh, kw}).contiguous();
}

torch::Tensor Conv2dSame(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias, int64_t stride, int64_t groups) {
  const SamePadding ph = ComputeSamePadding(x.size(2), weight.size(2), stride);
  const SamePadding pw = ComputeSamePadding(x.size(3), weight.size(3), stride);
  torch::Tensor input = x;
  std::vector<int64_t> symmetric = {0, 0};
  if (ph.before == ph.after && pw.before == pw.after) {
    symmetric = {ph.before, pw.before};
  } else {
    input = torch::constant_pad_nd(x, {pw.before, pw.after, ph.before, ph.after}, 0);
  }
  return torch::conv2d(input, weight, bias, {stride, stride}, symmetric, {1, 1}, groups);
}

torch::Tensor SeparableConv2dSame(const torch::Tensor& x, const SeparableConv& conv,
                                  int64_t stride) {
  torch::Tensor depthwise = Conv2dSame(x, conv.depthwise, {}, stride, x.size(1));
  return torch::conv2d(depthwise, conv.pointwise, conv.bias);
}

torch::Tensor AvgPoolValid(const torch::Tensor& x, int64_t kernel, int64_t stride) {
  return torch::avg_pool2d(x, {kernel, kernel}, {stride, stride}, {0, 0});
}

torch::Tensor ResizeBilinear(const torch::Tensor& x, int64_t out_h, int64_t out_w) {
  TORCH_CHECK(x.dim() == 4, "ResizeBilinear expects NHWC");
  TORCH_CHECK(out_h > 0 && out_w > 0, "ResizeBilinear: empty output size");
  const torch::Tensor in = x.to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t batch = in.size(0), in_h = in.size(1), in_w = in.size(2), depth = in.size(3);
  TORCH_CHECK(in_h > 0 && in_w > 0, "ResizeBilinear: empty input");
  torch::Tensor out = torch::empty({batch, out_h, out_w, depth}, torch::kFloat32);
  const float* src = in.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  // alignCorners = false: the effective sizes are the sizes themselves.
  const double row_ratio = static_cast<double>(in_h) / static_cast<double>(out_h);
  const double col_ratio = static_cast<double>(in_w) / static_cast<double>(out_w);
  const int64_t row_stride = in_w * depth;
  const int64_t batch_stride = in_h * row_stride;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < out_h; ++r) {
      const double src_row = row_ratio * static_cast<double>(r);
      const int64_t row_floor = std::max<int64_t>(0, static_cast<int64_t>(std::floor(src_row)));
      const double row_frac = src_row - static_cast<double>(row_floor);
      const int64_t row_ceil =
          std::min<int64_t>(in_h - 1, static_cast<int64_t>(std::ceil(src_row)));
      const float* top_row = src + b * batch_stride + row_floor * row_stride;
      const float* bottom_row = src + b * batch_stride + row_ceil * row_stride;
      for (int64_t c = 0; c < out_w; ++c) {
        const double src_col = col_ratio * static_cast<double>(c);
        const int64_t col_floor = std::max<int64_t>(0, static_cast<int64_t>(std::floor(src_col)));
        const double col_frac = src_col - static_cast<double>(col_floor);
        const int64_t col_ceil =
            std::min<int64_t>(in_w - 1, static_cast<int64_t>(std::ceil(src_col)));
        for (int64_t d = 0; d < depth; ++d) {
          const double top_left = top_row[col_floor * depth + d];
          const double top_right = top_row[col_ceil * depth + d];
          const double bottom_left = bottom_row[col_floor * depth + d];
          const double bottom_right = bottom_row[col_ceil * depth + d];
          const double top = Lerp(top_left, top_right, col_frac);
          const double bottom = Lerp(bottom_left, bottom_right, col_frac);
          *dst++ = static_cast<float>(Lerp(top, bottom, row_frac));
        }
      }
    }
  }
  return out;
}

torch::Tensor PadToSquare(const torch::Tensor& x, bool center) {
  TORCH_CHECK(x.dim() == 4, "PadToSquare expects NHWC");
  const torch::Tensor input = x.to(torch::kFloat32);
  const int64_t height = x.size(1), width = x.size(2);
  if (height == width) return input;
  const int64_t diff = std::abs(height - width);
  // Math.round(diff * 0.5) rounds halves up.
  const int64_t append = center ? (diff + 1) / 2 : diff;
  const int64_t prepend = diff - append;
  // constant_pad_nd pads from the last dimension backwards: {C, W, H}.
  if (height > width) {
    return torch::constant_pad_nd(input, {0, 0, prepend, append, 0, 0}, 0);
  }
  return torch::constant_pad_nd(input, {0, 0, 0, 0, prepend, append}, 0);
}

}  // namespace fer::tf
