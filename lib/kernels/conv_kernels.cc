#include "lib/kernels/conv_kernels.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "lib/kernels/microkernels.h"

namespace fer::kernels {
namespace {

using internal::DepthwiseArgs;
using internal::GemmArgs;
using internal::KernelTable;
using internal::NormalizeArgs;

const KernelTable& Table(Isa isa) {
  if (!IsaSupported(isa)) std::abort();  // a caller bug: ask IsaSupported first
  switch (isa) {
#if defined(FERSERVE_X86_KERNELS)
    case Isa::kAvx512:
      return internal::Avx512Kernels();
    case Isa::kAvx2:
      return internal::Avx2Kernels();
#endif
    default:
      return internal::GenericKernels();
  }
}

// Floats of intermediate rows (depthwise output or 3x3 patches) computed
// before each multiply: about 64 KiB, so that they stay in the L2 cache
// while the weight panels stream through L1.
constexpr long kTileFloats = 16384;

// Per-thread scratch for the intermediate rows; grows, never shrinks.
float* Scratch(long floats) {
  thread_local CacheAlignedFloats buffer;
  if (static_cast<long>(buffer.size()) < floats) buffer.resize(floats);
  return buffer.data();
}

int TileRows(long floats_per_row, int rows) {
  return static_cast<int>(
      std::clamp<long>(kTileFloats / std::max<long>(floats_per_row, 1), 1, std::max(rows, 1)));
}

// Output rows in range, of a band that holds them (from its first row on),
// computed from a whole input image.
void CheckRows(const ConstImageView& in, const ImageView& out, int row_begin, int row_end) {
  if (row_begin < 0 || row_end > out.height || row_begin > row_end ||
      (row_begin < row_end && row_begin < out.first_row) || in.first_row != 0) {
    std::abort();
  }
}

// The multiply writing m output pixels from pixel `column` of row `row` on.
GemmArgs Multiply(int m, const float* a, int lda, const PackedMatrix& filter,
                  const OutputStage& stage, const ImageView& out, int row, int column = 0) {
  GemmArgs g;
  g.m = m;
  g.n = filter.columns();
  g.k = filter.rows();
  g.a = a;
  g.lda = lda;
  g.panels = filter.panel_data();
  g.bias = filter.bias();
  // The residual is a whole image, out may be a band.
  const long offset = (static_cast<long>(row) * out.width + column) * out.channels;
  g.residual = stage.residual != nullptr ? stage.residual + offset : nullptr;
  g.ldr = out.channels;
  g.activation = stage.activation;
  g.c = out.row(row) + static_cast<long>(column) * out.channels;
  g.ldc = out.channels;
  return g;
}

}  // namespace

int WindowOutputSize(int in, int stride, Padding padding) {
  if (padding == Padding::kSame) return SameOutputSize(in, stride);
  return in < 3 ? 0 : (in - 3) / stride + 1;
}

int SamePadBefore(int in, int stride) {
  const int out = SameOutputSize(in, stride);
  const int total = std::max((out - 1) * stride + 3 - in, 0);
  return total / 2;
}

PackedMatrix::PackedMatrix(const float* weights, int rows, int columns, const float* bias)
    : rows_(rows), columns_(columns) {
  const int panel_count = panels();
  panels_.assign(static_cast<size_t>(panel_count) * rows * kPanelWidth, 0.0f);
  bias_.assign(static_cast<size_t>(panel_count) * kPanelWidth, 0.0f);
  for (int p = 0; p < panel_count; ++p) {
    for (int r = 0; r < rows; ++r) {
      for (int j = 0; j < kPanelWidth; ++j) {
        const int col = p * kPanelWidth + j;
        if (col >= columns) break;
        panels_[(static_cast<size_t>(p) * rows + r) * kPanelWidth + j] =
            weights[static_cast<size_t>(r) * columns + col];
      }
    }
  }
  if (bias != nullptr) std::copy(bias, bias + columns, bias_.begin());
}

DepthwiseFilter::DepthwiseFilter(const float* taps, int channels)
    : channels_(channels), taps_(taps, taps + 9 * static_cast<size_t>(channels)) {
  if (channels % PackedMatrix::kPanelWidth != 0) std::abort();
}

DepthwiseFilter& DepthwiseFilter::WithBatchNorm(const float* mean, const float* scale,
                                                const float* offset, Activation activation) {
  mean_.assign(mean, mean + channels_);
  scale_.assign(scale, scale + channels_);
  offset_.assign(offset, offset + channels_);
  activation_ = activation;
  return *this;
}

void SeparableConvRows(const ConstImageView& in, int stride, bool relu_input,
                       const DepthwiseFilter& depthwise, const PackedMatrix& pointwise,
                       const OutputStage& stage, const ImageView& out, int row_begin, int row_end,
                       Isa isa) {
  if (in.channels != depthwise.channels() || in.channels != pointwise.rows() ||
      out.channels != pointwise.columns() || out.height != SameOutputSize(in.height, stride) ||
      out.width != SameOutputSize(in.width, stride)) {
    std::abort();
  }
  CheckRows(in, out, row_begin, row_end);
  const KernelTable& table = Table(isa);
  const long row_floats = static_cast<long>(out.width) * in.channels;
  const int tile_rows = TileRows(row_floats, row_end - row_begin);
  float* d = Scratch(tile_rows * row_floats);
  DepthwiseArgs dw;
  dw.in = in.data;
  dw.height = in.height;
  dw.width = in.width;
  dw.channels = in.channels;
  dw.stride = stride;
  dw.pad_top = SamePadBefore(in.height, stride);
  dw.pad_left = SamePadBefore(in.width, stride);
  dw.out_width = out.width;
  dw.relu_input = relu_input;
  dw.taps = depthwise.taps();
  if (depthwise.has_batch_norm()) {
    dw.mean = depthwise.mean();
    dw.scale = depthwise.scale();
    dw.offset = depthwise.offset();
  }
  dw.activation = depthwise.activation();
  dw.d = d;
  for (int r = row_begin; r < row_end; r += tile_rows) {
    dw.row_begin = r;
    dw.row_end = std::min(row_end, r + tile_rows);
    table.depthwise(dw);
    table.gemm(Multiply((dw.row_end - r) * out.width, d, in.channels, pointwise, stage, out, r));
  }
}

void Conv3x3Rows(const ConstImageView& in, int stride, Padding padding, const PackedMatrix& filter,
                 const OutputStage& stage, const ImageView& out, int row_begin, int row_end,
                 Isa isa) {
  if (filter.rows() != 9 * in.channels || out.channels != filter.columns() ||
      out.height != WindowOutputSize(in.height, stride, padding) ||
      out.width != WindowOutputSize(in.width, stride, padding)) {
    std::abort();
  }
  CheckRows(in, out, row_begin, row_end);
  const KernelTable& table = Table(isa);
  const bool same = padding == Padding::kSame;
  const int pad_top = same ? SamePadBefore(in.height, stride) : 0;
  const int pad_left = same ? SamePadBefore(in.width, stride) : 0;
  const int k = filter.rows();
  const int window_floats = 3 * in.channels;
  const long in_row_floats = static_cast<long>(in.width) * in.channels;
  auto copy = [](const float* src, int n, float* dst) {
    if (n <= 16) {  // small channel counts: a call per copy would dominate
      for (int i = 0; i < n; ++i) dst[i] = src[i];
    } else {
      std::memcpy(dst, src, sizeof(float) * n);
    }
  };
  // The 3x3 patches of output pixels [x0, x1) of row r, zeros outside the
  // image, in the filter's [kh][kw][in] order: a window row is 3 pixels in a
  // row of the image, one copy where it lies inside.
  auto patches_of = [&](int r, int x0, int x1, float* p) {
    for (int x = x0; x < x1; ++x) {
      const int ix0 = x * stride - pad_left;
      for (int dy = 0; dy < 3; ++dy, p += window_floats) {
        const int iy = r * stride - pad_top + dy;
        if (iy < 0 || iy >= in.height) {
          std::fill(p, p + window_floats, 0.0f);
          continue;
        }
        const float* src = in.data + iy * in_row_floats;
        if (ix0 >= 0 && ix0 + 2 < in.width) {
          copy(src + static_cast<long>(ix0) * in.channels, window_floats, p);
          continue;
        }
        for (int dx = 0; dx < 3; ++dx) {
          const int ix = ix0 + dx;
          float* q = p + dx * in.channels;
          if (ix < 0 || ix >= in.width) {
            std::fill(q, q + in.channels, 0.0f);
          } else {
            copy(src + static_cast<long>(ix) * in.channels, in.channels, q);
          }
        }
      }
    }
  };

  // With few input channels, copying the patches costs more than the
  // multiply: where a pixel's window lies inside the image, the multiply
  // reads it straight from the image (three runs of 3 x channels floats, one
  // per window row; consecutive output pixels stride x channels apart), and
  // only the border pixels go through patches.
  if (in.channels < 16) {
    int x_lo = 0;
    while (x_lo < out.width && x_lo * stride - pad_left < 0) ++x_lo;
    int x_hi = out.width;
    while (x_hi > x_lo && (x_hi - 1) * stride - pad_left + 2 >= in.width) --x_hi;
    float* patches = Scratch(static_cast<long>(out.width) * k);
    auto through_patches = [&](int r, int x0, int x1) {
      if (x0 >= x1) return;
      patches_of(r, x0, x1, patches);
      table.gemm(Multiply(x1 - x0, patches, k, filter, stage, out, r, x0));
    };
    for (int r = row_begin; r < row_end; ++r) {
      const int iy0 = r * stride - pad_top;
      if (iy0 < 0 || iy0 + 2 >= in.height || x_lo >= x_hi) {
        through_patches(r, 0, out.width);
        continue;
      }
      through_patches(r, 0, x_lo);
      GemmArgs g = Multiply(
          x_hi - x_lo,
          in.data + iy0 * in_row_floats + static_cast<long>(x_lo * stride - pad_left) * in.channels,
          stride * in.channels, filter, stage, out, r, x_lo);
      g.segments = 3;
      g.segment_offset = in_row_floats;
      table.gemm(g);
      through_patches(r, x_hi, out.width);
    }
    return;
  }

  const long row_floats = static_cast<long>(out.width) * k;
  const int tile_rows = TileRows(row_floats, row_end - row_begin);
  float* patches = Scratch(tile_rows * row_floats);
  for (int r0 = row_begin; r0 < row_end; r0 += tile_rows) {
    const int r1 = std::min(row_end, r0 + tile_rows);
    for (int r = r0; r < r1; ++r) patches_of(r, 0, out.width, patches + (r - r0) * row_floats);
    table.gemm(Multiply((r1 - r0) * out.width, patches, k, filter, stage, out, r0));
  }
}

void PointwiseRows(const ConstImageView& in, const PackedMatrix& filter, const OutputStage& stage,
                   const ImageView& out, int row_begin, int row_end, Isa isa) {
  if (filter.rows() != in.channels || out.channels != filter.columns() || out.height != in.height ||
      out.width != in.width) {
    std::abort();
  }
  CheckRows(in, out, row_begin, row_end);
  const long offset = static_cast<long>(row_begin) * in.width * in.channels;
  Table(isa).gemm(Multiply((row_end - row_begin) * in.width, in.data + offset, in.channels, filter,
                           stage, out, row_begin));
}

void MaxPool2x2Rows(const ConstImageView& in, int stride, const ImageView& out, int row_begin,
                    int row_end) {
  if (stride < 1 || out.channels != in.channels ||
      out.height != SameOutputSize(in.height, stride) ||
      out.width != SameOutputSize(in.width, stride)) {
    std::abort();
  }
  if (row_begin < 0 || row_end > out.height || row_begin > row_end) std::abort();
  if (row_begin < row_end && (row_begin < out.first_row || row_begin * stride < in.first_row)) {
    std::abort();
  }
  // TF's 'same' padding for a 2-wide window puts its (at most one) padded
  // element after the image, so every window starts at x * stride.
  const int channels = in.channels;
  const long in_row = in.row_floats();
  for (int y = row_begin; y < row_end; ++y) {
    const float* top = in.row(y * stride);
    const float* bottom = y * stride + 1 < in.height ? top + in_row : top;
    float* dst = out.row(y);
    for (int x = 0; x < out.width; ++x, dst += channels) {
      const long left = static_cast<long>(x) * stride * channels;
      const long right = x * stride + 1 < in.width ? left + channels : left;
      for (int c = 0; c < channels; ++c) {
        dst[c] = std::max(std::max(top[left + c], top[right + c]),
                          std::max(bottom[left + c], bottom[right + c]));
      }
    }
  }
}

void NormalizeRgb(const float* in, long pixels, const RgbNormalization& normalization, float* out,
                  Isa isa) {
  NormalizeArgs args;
  args.in = in;
  args.pixels = pixels;
  args.normalization = normalization;
  args.out = out;
  Table(isa).normalize_rgb(args);
}

}  // namespace fer::kernels
