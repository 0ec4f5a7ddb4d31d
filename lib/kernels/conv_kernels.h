#ifndef FERSERVE_LIB_KERNELS_CONV_KERNELS_H_
#define FERSERVE_LIB_KERNELS_CONV_KERNELS_H_

#include <vector>

#include "lib/kernels/cache_aligned.h"
#include "lib/kernels/isa.h"

// Fused float32 convolution kernels for the CPU, on single NHWC images
// (channels innermost), with TensorFlow's 'same' padding: what face-api's
// networks are built from (3x3 depthwise + 1x1 pointwise "separable"
// convolutions, small dense 3x3 convolutions, 1x1 convolutions), each with
// its bias, residual sum and activation applied while the output tile is
// still in registers, so that a layer reads its input and writes its output
// once. Each call computes a range of output rows, so callers can split a
// layer between threads; calls on disjoint rows may run concurrently.
// Results equal the unfused operations to float32 rounding (sums are taken
// in the same order; multiply-adds may be fused).
namespace fer::kernels {

enum class Activation {
  kNone,
  kRelu,   // max(x, 0)
  kRelu6,  // min(max(x, 0), 6)
  kLeaky,  // face-api's leaky ReLU: m = 0.1 x; max(x - m, 0) + m, in float32
};

// How a 3x3 window meets the image border: TensorFlow's 'same' (zeros
// around the image, out = ceil(in / stride)) or 'valid' (no padding, out =
// (in - 3) / stride + 1).
enum class Padding { kSame, kValid };

// Output size of TensorFlow's 'same' padding: ceil(in / stride).
inline int SameOutputSize(int in, int stride) { return (in + stride - 1) / stride; }

// Output size of a 3-wide window with `padding` (at least 0).
int WindowOutputSize(int in, int stride, Padding padding);

// Padding before the first element for a 3-wide 'same' window: the total is
// split with the odd element at the end, so stride 2 on an even size pads
// only after.
int SamePadBefore(int in, int stride);

// One NHWC image, rows and pixels contiguous, or a band of its rows: data
// then holds rows from first_row on (height stays the whole image's). The
// layers below read whole images; they write (and the pool reads) bands.
struct ImageView {
  float* data = nullptr;
  int height = 0;
  int width = 0;
  int channels = 0;
  int first_row = 0;

  long row_floats() const { return static_cast<long>(width) * channels; }
  float* row(int y) const { return data + (y - first_row) * row_floats(); }
};
struct ConstImageView {
  const float* data = nullptr;
  int height = 0;
  int width = 0;
  int channels = 0;
  int first_row = 0;
  ConstImageView() = default;
  ConstImageView(const float* d, int h, int w, int c, int first = 0)
      : data(d), height(h), width(w), channels(c), first_row(first) {}
  ConstImageView(const ImageView& v)  // NOLINT: a writable view reads too
      : data(v.data),
        height(v.height),
        width(v.width),
        channels(v.channels),
        first_row(v.first_row) {}

  long row_floats() const { return static_cast<long>(width) * channels; }
  const float* row(int y) const { return data + (y - first_row) * row_floats(); }
};

// A convolution's weight matrix, rows = inputs (channels, or 9 x channels
// for a 3x3 conv in TensorFlow's [kh][kw][in] order), columns = output
// channels, packed for the multiply kernels: column panels of 16,
// zero-padded. Immutable after packing.
class PackedMatrix {
 public:
  static constexpr int kPanelWidth = 16;

  PackedMatrix() = default;
  // `weights`: rows x columns, row-major (TensorFlow's HWIO flattened);
  // `bias`: columns values, or null for none.
  PackedMatrix(const float* weights, int rows, int columns, const float* bias);

  int rows() const { return rows_; }
  int columns() const { return columns_; }
  int panels() const { return (columns_ + kPanelWidth - 1) / kPanelWidth; }
  const float* panel_data() const { return panels_.data(); }
  const float* bias() const { return bias_.data(); }  // padded to panels() x 16

 private:
  int rows_ = 0;
  int columns_ = 0;
  CacheAlignedFloats panels_;  // [panels][rows][16]
  CacheAlignedFloats bias_;
};

// A 3x3 depthwise filter (channel multiplier 1) and what follows it before
// the pointwise step: optionally TensorFlow's batch norm
// ((y - mean) * scale + offset, scale = gamma / sqrt(variance + eps)) and an
// activation. Channels must be a multiple of 16.
class DepthwiseFilter {
 public:
  DepthwiseFilter() = default;
  // `taps`: [3][3][channels] (TensorFlow's [kh, kw, in, 1]).
  DepthwiseFilter(const float* taps, int channels);
  // Adds the batch norm (`channels` values each) and the activation after it.
  DepthwiseFilter& WithBatchNorm(const float* mean, const float* scale, const float* offset,
                                 Activation activation);

  int channels() const { return channels_; }
  const float* taps() const { return taps_.data(); }
  bool has_batch_norm() const { return !mean_.empty(); }
  const float* mean() const { return mean_.data(); }
  const float* scale() const { return scale_.data(); }
  const float* offset() const { return offset_.data(); }
  Activation activation() const { return activation_; }

 private:
  int channels_ = 0;
  CacheAlignedFloats taps_;  // [9][channels]
  CacheAlignedFloats mean_, scale_, offset_;
  Activation activation_ = Activation::kNone;
};

// What the pointwise step adds after the matrix product, in this order:
// the bias, then `residual` (an image of the output's shape, may alias
// neither input nor output), then `activation`.
struct OutputStage {
  const float* residual = nullptr;
  Activation activation = Activation::kNone;
};

// Output rows [row_begin, row_end) of
//   stage(pointwise(depthwise3x3_same(relu_input ? max(in, 0) : in, stride)))
// where the depthwise step includes the filter's batch norm and activation.
// out: SameOutputSize(in.height, stride) x SameOutputSize(in.width, stride)
// x pointwise.columns(); in.channels == depthwise.channels() ==
// pointwise.rows().
void SeparableConvRows(const ConstImageView& in, int stride, bool relu_input,
                       const DepthwiseFilter& depthwise, const PackedMatrix& pointwise,
                       const OutputStage& stage, const ImageView& out, int row_begin, int row_end,
                       Isa isa = BestIsa());

// Output rows of stage(conv3x3(in, stride, padding)) for a dense 3x3 filter
// packed from [3][3][in.channels][out] (rows = 9 x in.channels).
void Conv3x3Rows(const ConstImageView& in, int stride, Padding padding, const PackedMatrix& filter,
                 const OutputStage& stage, const ImageView& out, int row_begin, int row_end,
                 Isa isa = BestIsa());

// Output rows of stage(conv1x1(in)) (rows = in.channels); same size as in.
void PointwiseRows(const ConstImageView& in, const PackedMatrix& filter, const OutputStage& stage,
                   const ImageView& out, int row_begin, int row_end, Isa isa = BestIsa());

// Output rows of TensorFlow's maxPool(in, [2, 2], [stride, stride], 'same'):
// out = ceil(in / stride) each way, the window clipped to the image (TF pads
// with -infinity, after the image: the padding is at most 1). Same channels.
void MaxPool2x2Rows(const ConstImageView& in, int stride, const ImageView& out, int row_begin,
                    int row_end);

// A network's input from RGB values, as TF.js computes it in float32:
// out[p][c] = (in[p][c] - subtract[c]) / divisor, a true division, then
// + add where add_offset, for `pixels` pixels of 3 channels. in may equal
// out.
struct RgbNormalization {
  float subtract[3] = {0, 0, 0};
  float divisor = 1;
  bool add_offset = false;
  float add = 0;
};
void NormalizeRgb(const float* in, long pixels, const RgbNormalization& normalization, float* out,
                  Isa isa = BestIsa());

}  // namespace fer::kernels

#endif  // FERSERVE_LIB_KERNELS_CONV_KERNELS_H_
