#ifndef FERSERVE_LIB_MODEL_TF_OPS_H_
#define FERSERVE_LIB_MODEL_TF_OPS_H_

#include <torch/torch.h>

#include <cstdint>

// LibTorch versions of the TensorFlow(.js) operations face-api's networks are
// built from, with TensorFlow's semantics where they differ from torch's.
// Network tensors are NCHW (torch's layout); image tensors handed between
// face-api's preprocessing steps are NHWC float32, as in TF.js.
namespace fer::tf {

// Padding TensorFlow's 'same' mode applies to one spatial axis: the output
// has ceil(in / stride) elements, the total padding is split with the odd
// element at the end (so stride 2 on an even size pads only bottom/right).
struct SamePadding {
  int64_t before = 0;
  int64_t after = 0;
};
SamePadding ComputeSamePadding(int64_t in_size, int64_t kernel, int64_t stride);

// TF conv filter [kh, kw, in, out] -> torch conv weight [out, in, kh, kw].
torch::Tensor ConvFilterToTorch(const torch::Tensor& hwio);
// TF depthwise filter [kh, kw, in, multiplier] -> torch grouped conv weight
// [in * multiplier, 1, kh, kw] (use groups = in).
torch::Tensor DepthwiseFilterToTorch(const torch::Tensor& hwim);

// tf.conv2d(x, filter, stride, 'same') (+ bias when defined) on NCHW `x`
// with a torch-layout `weight`; `groups` > 1 for depthwise convolutions.
torch::Tensor Conv2dSame(const torch::Tensor& x, const torch::Tensor& weight,
                         const torch::Tensor& bias, int64_t stride, int64_t groups = 1);

// Weights of tf.separableConv2d + bias, already in torch layout.
struct SeparableConv {
  torch::Tensor depthwise;  // [in, 1, kh, kw]
  torch::Tensor pointwise;  // [out, in, 1, 1]
  torch::Tensor bias;       // [out]
};
// tf.separableConv2d(x, depthwise, pointwise, stride, 'same') + bias (face-api's
// depthwiseSeparableConv) on NCHW `x`.
torch::Tensor SeparableConv2dSame(const torch::Tensor& x, const SeparableConv& conv,
                                  int64_t stride);

// tf.avgPool(x, [k, k], [stride, stride], 'valid') on NCHW `x`.
torch::Tensor AvgPoolValid(const torch::Tensor& x, int64_t kernel, int64_t stride);

// tf.image.resizeBilinear(x, [out_h, out_w], alignCorners=false,
// halfPixelCenters=false) on NHWC float32 `x`, bit-identical to
// tfjs-backend-cpu: source coordinate = dst * in / out (ratios and weights in
// double), interpolate along x then y, round to float32. Runs on the CPU;
// the result is a CPU tensor.
torch::Tensor ResizeBilinear(const torch::Tensor& x, int64_t out_h, int64_t out_w);

// face-api's padToSquare(x, isCenterImage) on NHWC `x`: zero-pads the
// shorter spatial side to make it square. Not centered: all padding at the
// end (bottom/right). Centered: round(diff / 2) (JS rounding) at the end, the
// rest at the start. Returns float32.
torch::Tensor PadToSquare(const torch::Tensor& x, bool center);

}  // namespace fer::tf

#endif  // FERSERVE_LIB_MODEL_TF_OPS_H_
