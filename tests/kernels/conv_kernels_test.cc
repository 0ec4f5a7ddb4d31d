#include "lib/kernels/conv_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace fer::kernels {
namespace {

// Plain-loop references with TensorFlow's semantics, accumulating in double.
struct Tensor {
  int h = 0, w = 0, c = 0;
  std::vector<float> v;
  float& at(int y, int x, int ch) { return v[(static_cast<size_t>(y) * w + x) * c + ch]; }
  float at(int y, int x, int ch) const { return v[(static_cast<size_t>(y) * w + x) * c + ch]; }
};

Tensor Random(int h, int w, int c, std::mt19937& rng, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t{h, w, c, std::vector<float>(static_cast<size_t>(h) * w * c)};
  for (float& x : t.v) x = u(rng);
  return t;
}

std::vector<float> RandomVector(size_t n, std::mt19937& rng, float lo = -1, float hi = 1) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

float Activate(double x, Activation a) {
  switch (a) {
    case Activation::kNone:
      return static_cast<float>(x);
    case Activation::kRelu:
      return static_cast<float>(std::max(x, 0.0));
    case Activation::kRelu6:
      return static_cast<float>(std::min(std::max(x, 0.0), 6.0));
    case Activation::kLeaky: {  // face-api's leaky, in float32
      const float f = static_cast<float>(x), m = f * 0.1f;
      return std::max(f - m, 0.0f) + m;
    }
  }
  return 0;
}

// TF 'same' padding before, for a 3-wide window.
int PadBefore(int in, int stride) {
  const int out = (in + stride - 1) / stride;
  return std::max((out - 1) * stride + 3 - in, 0) / 2;
}

Tensor ReferenceDepthwise(const Tensor& in, int stride, bool relu_input,
                          const std::vector<float>& taps, const std::vector<float>* bn,
                          Activation act) {
  Tensor out{(in.h + stride - 1) / stride, (in.w + stride - 1) / stride, in.c, {}};
  out.v.assign(static_cast<size_t>(out.h) * out.w * out.c, 0);
  const int pt = PadBefore(in.h, stride), pl = PadBefore(in.w, stride);
  for (int y = 0; y < out.h; ++y) {
    for (int x = 0; x < out.w; ++x) {
      for (int c = 0; c < in.c; ++c) {
        double sum = 0;
        for (int dy = 0; dy < 3; ++dy) {
          for (int dx = 0; dx < 3; ++dx) {
            const int iy = y * stride - pt + dy, ix = x * stride - pl + dx;
            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
            double v = in.at(iy, ix, c);
            if (relu_input) v = std::max(v, 0.0);
            sum += v * taps[(dy * 3 + dx) * in.c + c];
          }
        }
        if (bn != nullptr) {
          sum = (sum - bn[0][c]) * bn[1][c] + bn[2][c];
        }
        out.at(y, x, c) = Activate(sum, act);
      }
    }
  }
  return out;
}

Tensor ReferencePointwise(const Tensor& in, const std::vector<float>& w, int out_c,
                          const std::vector<float>& bias, const Tensor* residual, Activation act) {
  Tensor out{in.h, in.w, out_c, std::vector<float>(static_cast<size_t>(in.h) * in.w * out_c)};
  for (int y = 0; y < in.h; ++y) {
    for (int x = 0; x < in.w; ++x) {
      for (int o = 0; o < out_c; ++o) {
        double sum = 0;
        for (int i = 0; i < in.c; ++i) sum += double{in.at(y, x, i)} * w[i * out_c + o];
        sum += bias.empty() ? 0 : bias[o];
        if (residual != nullptr) sum += residual->at(y, x, o);
        out.at(y, x, o) = Activate(sum, act);
      }
    }
  }
  return out;
}

Tensor ReferenceConv3x3(const Tensor& in, int stride, bool valid, const std::vector<float>& w,
                        int out_c, const std::vector<float>& bias, Activation act) {
  Tensor out{valid ? (in.h - 3) / stride + 1 : (in.h + stride - 1) / stride,
             valid ? (in.w - 3) / stride + 1 : (in.w + stride - 1) / stride,
             out_c,
             {}};
  out.v.assign(static_cast<size_t>(out.h) * out.w * out.c, 0);
  const int pt = valid ? 0 : PadBefore(in.h, stride), pl = valid ? 0 : PadBefore(in.w, stride);
  for (int y = 0; y < out.h; ++y) {
    for (int x = 0; x < out.w; ++x) {
      for (int o = 0; o < out_c; ++o) {
        double sum = 0;
        for (int dy = 0; dy < 3; ++dy) {
          for (int dx = 0; dx < 3; ++dx) {
            const int iy = y * stride - pt + dy, ix = x * stride - pl + dx;
            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;
            for (int i = 0; i < in.c; ++i) {
              sum += double{in.at(iy, ix, i)} * w[((dy * 3 + dx) * in.c + i) * out_c + o];
            }
          }
        }
        out.at(y, x, o) = Activate(sum + bias[o], act);
      }
    }
  }
  return out;
}

// tf.maxPool(in, [2, 2], [stride, stride], 'same'): -infinity padding.
Tensor ReferenceMaxPool2x2(const Tensor& in, int stride) {
  Tensor out{(in.h + stride - 1) / stride, (in.w + stride - 1) / stride, in.c, {}};
  out.v.assign(static_cast<size_t>(out.h) * out.w * out.c, 0);
  const int pt = std::max((out.h - 1) * stride + 2 - in.h, 0) / 2;
  const int pl = std::max((out.w - 1) * stride + 2 - in.w, 0) / 2;
  for (int y = 0; y < out.h; ++y) {
    for (int x = 0; x < out.w; ++x) {
      for (int c = 0; c < in.c; ++c) {
        float best = -std::numeric_limits<float>::infinity();
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) {
            const int iy = y * stride - pt + dy, ix = x * stride - pl + dx;
            if (iy >= 0 && iy < in.h && ix >= 0 && ix < in.w)
              best = std::max(best, in.at(iy, ix, c));
          }
        }
        out.at(y, x, c) = best;
      }
    }
  }
  return out;
}

void ExpectNear(const Tensor& got, const Tensor& want, double tolerance) {
  ASSERT_EQ(got.v.size(), want.v.size());
  double worst = 0;
  size_t worst_at = 0;
  for (size_t i = 0; i < got.v.size(); ++i) {
    const double err = std::abs(double{got.v[i]} - want.v[i]) / (1 + std::abs(double{want.v[i]}));
    if (err > worst) worst = err, worst_at = i;
  }
  EXPECT_LE(worst, tolerance) << "at " << worst_at << ": " << got.v[worst_at] << " vs "
                              << want.v[worst_at];
}

ImageView View(Tensor& t) { return {t.v.data(), t.h, t.w, t.c}; }

struct SeparableCase {
  int h, w, in_c, out_c, stride;
  bool relu_input, residual, batch_norm;
  Activation act;
};

class ConvKernelsTest : public ::testing::TestWithParam<Isa> {};

TEST_P(ConvKernelsTest, SeparableConvMatchesReference) {
  std::mt19937 rng(1);
  const std::vector<SeparableCase> cases = {
      {56, 56, 32, 32, 1, false, true, false, Activation::kNone},  // face-api dense0 conv1
      {56, 56, 32, 64, 2, true, false, false, Activation::kRelu},  // dense1 conv0
      {7, 7, 256, 256, 1, true, true, false, Activation::kNone},   // dense3 conv3
      {14, 14, 128, 128, 1, true, true, false, Activation::kRelu},
      {33, 17, 16, 40, 2, false, false, true, Activation::kRelu6},  // odd sizes, 40 columns
      {5, 9, 48, 12, 1, true, true, true, Activation::kRelu6},      // a partial panel only
      {1, 1, 16, 16, 1, false, false, false, Activation::kNone},
      {2, 3, 32, 33, 2, false, true, false, Activation::kRelu},
      {26, 26, 128, 256, 1, false, false, false, Activation::kLeaky},  // tiny detector conv4
      // Rows of several steps of pixels and a remainder, batch norm.
      {6, 29, 32, 16, 1, true, false, true, Activation::kRelu6},
      {7, 45, 64, 24, 2, false, true, true, Activation::kNone},
      {5, 27, 512, 16, 1, true, false, true, Activation::kRelu6},  // wide: channel by channel
      // By pixel, each channel count it has as a constant, both strides,
      // and one it has not (48).
      {4, 20, 16, 16, 1, true, false, true, Activation::kRelu6},
      {5, 37, 16, 16, 2, false, false, false, Activation::kNone},
      {4, 19, 64, 16, 1, false, false, true, Activation::kRelu6},
      {5, 25, 128, 16, 2, true, false, true, Activation::kRelu6},
      {4, 18, 256, 16, 1, false, false, true, Activation::kRelu6},
      {5, 21, 256, 16, 2, true, false, false, Activation::kNone},
      {4, 19, 48, 16, 1, true, false, true, Activation::kRelu6},
      {5, 21, 48, 16, 2, false, false, true, Activation::kRelu6},
  };
  for (const SeparableCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.h << "x" << c.w << "x" << c.in_c << " -> " << c.out_c
                                      << " stride " << c.stride);
    const Tensor in = Random(c.h, c.w, c.in_c, rng);
    const std::vector<float> taps = RandomVector(9 * c.in_c, rng);
    const std::vector<float> pw =
        RandomVector(static_cast<size_t>(c.in_c) * c.out_c, rng, -0.3f, 0.3f);
    const std::vector<float> bias = RandomVector(c.out_c, rng);
    std::vector<float> bn[3] = {RandomVector(c.in_c, rng), RandomVector(c.in_c, rng, 0.5f, 2),
                                RandomVector(c.in_c, rng)};
    const Activation dw_act = c.batch_norm ? Activation::kRelu6 : Activation::kNone;
    const Tensor dw =
        ReferenceDepthwise(in, c.stride, c.relu_input, taps, c.batch_norm ? bn : nullptr, dw_act);
    const Tensor residual = Random(dw.h, dw.w, c.out_c, rng);
    const Tensor want =
        ReferencePointwise(dw, pw, c.out_c, bias, c.residual ? &residual : nullptr, c.act);

    DepthwiseFilter filter(taps.data(), c.in_c);
    if (c.batch_norm) filter.WithBatchNorm(bn[0].data(), bn[1].data(), bn[2].data(), dw_act);
    const PackedMatrix packed(pw.data(), c.in_c, c.out_c, bias.data());
    Tensor got{dw.h, dw.w, c.out_c, std::vector<float>(want.v.size(), -99)};
    const OutputStage stage{c.residual ? residual.v.data() : nullptr, c.act};
    const ConstImageView input(in.v.data(), in.h, in.w, in.c);
    // In two calls on disjoint rows, as two threads would.
    const int split = got.h / 2;
    SeparableConvRows(input, c.stride, c.relu_input, filter, packed, stage, View(got), 0, split,
                      GetParam());
    SeparableConvRows(input, c.stride, c.relu_input, filter, packed, stage, View(got), split, got.h,
                      GetParam());
    ExpectNear(got, want, 1e-5);
  }
}

TEST_P(ConvKernelsTest, Conv3x3MatchesReference) {
  std::mt19937 rng(2);
  struct Case {
    int h, w, in_c, out_c, stride;
    Activation act;
    Padding padding = Padding::kSame;
  };
  for (const Case& c : std::vector<Case>{
           {112, 112, 3, 32, 2, Activation::kRelu},  // dense0 conv0
           {15, 16, 3, 32, 2, Activation::kRelu6},
           {16, 16, 64, 128, 2, Activation::kRelu6},
           {9, 7, 5, 20, 1, Activation::kNone},
           {66, 66, 3, 16, 1, Activation::kLeaky, Padding::kValid},  // tiny detector conv0
           {9, 12, 5, 20, 2, Activation::kNone, Padding::kValid},
           {3, 3, 16, 8, 1, Activation::kRelu, Padding::kValid},
           {2, 2, 3, 16, 1, Activation::kRelu},  // no pixel with its window inside
           {3, 4, 3, 16, 1, Activation::kLeaky, Padding::kValid}}) {
    SCOPED_TRACE(::testing::Message()
                 << c.h << "x" << c.w << "x" << c.in_c << " stride " << c.stride
                 << (c.padding == Padding::kValid ? " valid" : ""));
    const Tensor in = Random(c.h, c.w, c.in_c, rng);
    const std::vector<float> w = RandomVector(9 * c.in_c * c.out_c, rng, -0.3f, 0.3f);
    const std::vector<float> bias = RandomVector(c.out_c, rng);
    const Tensor want =
        ReferenceConv3x3(in, c.stride, c.padding == Padding::kValid, w, c.out_c, bias, c.act);
    ASSERT_EQ(want.h, WindowOutputSize(c.h, c.stride, c.padding));
    ASSERT_EQ(want.w, WindowOutputSize(c.w, c.stride, c.padding));
    const PackedMatrix packed(w.data(), 9 * c.in_c, c.out_c, bias.data());
    Tensor got{want.h, want.w, c.out_c, std::vector<float>(want.v.size(), -99)};
    Conv3x3Rows(ConstImageView(in.v.data(), in.h, in.w, in.c), c.stride, c.padding, packed,
                {nullptr, c.act}, View(got), 0, got.h, GetParam());
    ExpectNear(got, want, 1e-5);
  }
}

TEST_P(ConvKernelsTest, PointwiseMatchesReference) {
  std::mt19937 rng(3);
  for (const int out_c : {12, 16, 24, 64, 100}) {
    const Tensor in = Random(6, 5, 40, rng);
    const std::vector<float> w = RandomVector(40 * out_c, rng);
    const Tensor want = ReferencePointwise(in, w, out_c, {}, nullptr, Activation::kNone);
    const PackedMatrix packed(w.data(), 40, out_c, nullptr);
    Tensor got{6, 5, out_c, std::vector<float>(want.v.size(), -99)};
    PointwiseRows(ConstImageView(in.v.data(), 6, 5, 40), packed, {}, View(got), 0, 6, GetParam());
    ExpectNear(got, want, 1e-5);
  }
}

// A band view (data holding rows from first_row on) gets the bits of the
// same rows of the whole output; the pool reads bands too.
TEST_P(ConvKernelsTest, BandsHoldTheRowsOfTheWholeImage) {
  std::mt19937 rng(9);
  const Tensor in = Random(11, 10, 16, rng);
  const std::vector<float> conv = RandomVector(9 * 16 * 16, rng, -0.3f, 0.3f);
  const std::vector<float> taps = RandomVector(9 * 16, rng), pw = RandomVector(16 * 16, rng);
  const PackedMatrix conv_packed(conv.data(), 9 * 16, 16, nullptr);
  const DepthwiseFilter filter(taps.data(), 16);
  const PackedMatrix pw_packed(pw.data(), 16, 16, nullptr);
  const ConstImageView input(in.v.data(), 11, 10, 16);
  const long row = 10 * 16;
  for (const bool separable : {false, true}) {
    SCOPED_TRACE(separable ? "separable" : "conv3x3");
    auto rows = [&](const ImageView& out, int begin, int end) {
      if (separable) {
        SeparableConvRows(input, 1, false, filter, pw_packed, {}, out, begin, end, GetParam());
      } else {
        Conv3x3Rows(input, 1, Padding::kSame, conv_packed, {}, out, begin, end, GetParam());
      }
    };
    Tensor whole{11, 10, 16, std::vector<float>(11 * row)};
    rows(View(whole), 0, 11);
    std::vector<float> band(4 * row, -7);
    const ImageView band_view{band.data(), 11, 10, 16, /*first_row=*/5};
    rows(band_view, 5, 9);
    EXPECT_EQ(band, std::vector<float>(whole.v.begin() + 5 * row, whole.v.begin() + 9 * row));
    // Pooled rows 2..3 (stride 2) read image rows 4..7: a band from row 4.
    Tensor pooled{6, 5, 16, std::vector<float>(6 * 5 * 16, -7)};
    MaxPool2x2Rows(View(whole), 2, View(pooled), 0, 6);
    std::vector<float> rows_4_to_7(4 * row, -7);
    const ImageView from_row_4{rows_4_to_7.data(), 11, 10, 16, /*first_row=*/4};
    rows(from_row_4, 4, 8);
    std::vector<float> pooled_band(2 * 5 * 16, -7);
    MaxPool2x2Rows(from_row_4, 2, ImageView{pooled_band.data(), 6, 5, 16, 2}, 2, 4);
    EXPECT_EQ(pooled_band,
              std::vector<float>(pooled.v.begin() + 2 * 5 * 16, pooled.v.begin() + 4 * 5 * 16));
  }
}

TEST_P(ConvKernelsTest, RowRangesLeaveOtherRowsAlone) {
  std::mt19937 rng(4);
  const Tensor in = Random(8, 8, 16, rng);
  const std::vector<float> taps = RandomVector(9 * 16, rng);
  const std::vector<float> pw = RandomVector(16 * 16, rng);
  const DepthwiseFilter filter(taps.data(), 16);
  const PackedMatrix packed(pw.data(), 16, 16, nullptr);
  Tensor out{8, 8, 16, std::vector<float>(8 * 8 * 16, -7)};
  SeparableConvRows(ConstImageView(in.v.data(), 8, 8, 16), 1, false, filter, packed, {}, View(out),
                    3, 5, GetParam());
  for (int y = 0; y < 8; ++y) {
    const bool inside = y >= 3 && y < 5;
    for (int i = 0; i < 8 * 16; ++i) {
      ASSERT_EQ(out.v[y * 8 * 16 + i] == -7, !inside) << "row " << y;
    }
  }
}

// The detectors' and the backbone's input normalizations, bit for bit as
// the scalar float32 formulas TF.js evaluates, whole vectors and tails.
TEST_P(ConvKernelsTest, NormalizeRgbIsTheScalarFormula) {
  std::mt19937 rng(7);
  const RgbNormalization mean_rgb{{122.782f, 117.001f, 104.298f}, 255.0f};
  const RgbNormalization ssd{{0, 0, 0}, 127.5f, /*add_offset=*/true, -1.0f};
  for (const long pixels : {1L, 5L, 16L, 17L, 21L, 112L * 112L, 1001L}) {
    SCOPED_TRACE(::testing::Message() << pixels << " pixels");
    std::vector<float> in = RandomVector(3 * pixels, rng, 0, 255);
    for (size_t i = 0; i < in.size(); i += 7) in[i] = std::round(in[i]);  // whole values too
    std::vector<float> got(in.size(), -99), want(in.size());
    NormalizeRgb(in.data(), pixels, mean_rgb, got.data(), GetParam());
    for (size_t i = 0; i < in.size(); ++i) {
      want[i] = (in[i] - mean_rgb.subtract[i % 3]) / 255.0f;
    }
    EXPECT_EQ(got, want);
    NormalizeRgb(in.data(), pixels, ssd, got.data(), GetParam());
    for (size_t i = 0; i < in.size(); ++i) want[i] = in[i] / 127.5f - 1.0f;
    EXPECT_EQ(got, want);
    NormalizeRgb(in.data(), pixels, ssd, in.data(), GetParam());  // in place
    EXPECT_EQ(in, want);
  }
}

TEST(MaxPool2x2Test, MatchesTensorFlowSamePooling) {
  std::mt19937 rng(6);
  struct Case {
    int h, w, c, stride;
  };
  // The tiny detector's pools (414 -> 207 -> 104 -> ... -> 13, then stride 1
  // on 13), odd and even sizes, a single pixel.
  for (const Case& c : std::vector<Case>{
           {414, 414, 16, 2}, {207, 207, 32, 2}, {13, 13, 512, 1}, {7, 10, 3, 2}, {1, 1, 16, 2}}) {
    SCOPED_TRACE(::testing::Message() << c.h << "x" << c.w << "x" << c.c << " stride " << c.stride);
    const Tensor in = Random(c.h, c.w, c.c, rng, -5, 5);
    const Tensor want = ReferenceMaxPool2x2(in, c.stride);
    Tensor got{want.h, want.w, c.c, std::vector<float>(want.v.size(), -99)};
    const ConstImageView input(in.v.data(), in.h, in.w, in.c);
    const int split = got.h / 2;
    MaxPool2x2Rows(input, c.stride, View(got), 0, split);
    MaxPool2x2Rows(input, c.stride, View(got), split, got.h);
    EXPECT_EQ(got.v, want.v);  // a maximum is exact
  }
}

TEST(WindowOutputSizeTest, SameAndValid) {
  EXPECT_EQ(WindowOutputSize(416, 1, Padding::kValid), 414);
  EXPECT_EQ(WindowOutputSize(416, 1, Padding::kSame), 416);
  EXPECT_EQ(WindowOutputSize(9, 2, Padding::kValid), 4);
  EXPECT_EQ(WindowOutputSize(9, 2, Padding::kSame), 5);
  EXPECT_EQ(WindowOutputSize(2, 1, Padding::kValid), 0);
}

INSTANTIATE_TEST_SUITE_P(AllSupported, ConvKernelsTest, ::testing::ValuesIn(SupportedIsas()),
                         [](const ::testing::TestParamInfo<Isa>& info) {
                           return std::string(IsaName(info.param));
                         });

TEST(IsaTest, BestIsSupportedAndNamed) {
  EXPECT_TRUE(IsaSupported(Isa::kGeneric));
  EXPECT_TRUE(IsaSupported(BestIsa()));
  const std::vector<Isa> isas = SupportedIsas();
  EXPECT_EQ(isas.front(), Isa::kGeneric);
  EXPECT_EQ(isas.back(), BestIsa());
  EXPECT_STREQ(IsaName(Isa::kAvx512), "avx512");
}

TEST(IsaTest, ACapLimitsTheChoice) {
  EXPECT_EQ(BestIsaUpTo("generic"), Isa::kGeneric);
  EXPECT_EQ(BestIsaUpTo(nullptr), SupportedIsas().back());
  EXPECT_EQ(BestIsaUpTo("no-such-isa"), SupportedIsas().back());
  if (IsaSupported(Isa::kAvx512)) {
    EXPECT_EQ(BestIsaUpTo("avx2"), Isa::kAvx2);
    EXPECT_EQ(BestIsaUpTo("avx512"), Isa::kAvx512);
  }
}

TEST(WeightsTest, StartOnCacheLines) {
  // A 1024 x 1024 matrix (4 MiB) comes from mmap, where malloc's blocks
  // start 16 bytes past a page.
  const std::vector<float> large(1024 * 1024, 0.5f), bias(1024, 0.5f), taps(9 * 512, 0.25f);
  const std::vector<float> stats(512, 1.0f);
  const PackedMatrix matrix(large.data(), 1024, 1024, bias.data());
  DepthwiseFilter filter(taps.data(), 512);
  filter.WithBatchNorm(stats.data(), stats.data(), stats.data(), Activation::kRelu6);
  for (const float* p : {matrix.panel_data(), matrix.bias(), filter.taps(), filter.mean(),
                         filter.scale(), filter.offset()}) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  }
}

TEST(SamePaddingTest, MatchesTensorFlow) {
  EXPECT_EQ(SameOutputSize(112, 2), 56);
  EXPECT_EQ(SamePadBefore(112, 2), 0);  // stride 2 on an even size: bottom/right only
  EXPECT_EQ(SamePadBefore(7, 2), 1);
  EXPECT_EQ(SamePadBefore(56, 1), 1);
  EXPECT_EQ(SameOutputSize(7, 2), 4);
}

}  // namespace
}  // namespace fer::kernels
