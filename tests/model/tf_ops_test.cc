#include "lib/model/tf_ops.h"

#include <gtest/gtest.h>

#include <vector>

namespace fer::tf {
namespace {

// NCHW [1, 1, h, w] with values 0, 1, 2, ... row-major.
torch::Tensor Ramp(int64_t h, int64_t w) {
  return torch::arange(h * w, torch::kFloat32).reshape({1, 1, h, w});
}

std::vector<float> Values(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

TEST(TfOpsTest, SamePaddingPutsTheOddElementAtTheEnd) {
  auto pad = [](int64_t in, int64_t k, int64_t s) {
    SamePadding p = ComputeSamePadding(in, k, s);
    return std::vector<int64_t>{p.before, p.after};
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(pad(112, 3, 2), (V{0, 1}));  // out 56
  EXPECT_EQ(pad(7, 3, 2), (V{1, 1}));    // out 4
  EXPECT_EQ(pad(6, 3, 1), (V{1, 1}));
  EXPECT_EQ(pad(4, 4, 1), (V{1, 2}));
  EXPECT_EQ(pad(5, 1, 1), (V{0, 0}));
  EXPECT_EQ(pad(8, 1, 2), (V{0, 0}));
}

TEST(TfOpsTest, Conv2dSameStride2OnEvenSizePadsOnlyBottomRight) {
  // 3x3 box filter, stride 2 over a 4x4 ramp. TF: out 2x2, windows start at
  // rows/cols 0 and 2, the missing row/column 4 is zero.
  const torch::Tensor ones = ConvFilterToTorch(torch::ones({3, 3, 1, 1}));
  const torch::Tensor y = Conv2dSame(Ramp(4, 4), ones, {}, 2);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  // 0+1+2+4+5+6+8+9+10, 2+3+6+7+10+11, 8+9+10+12+13+14, 10+11+14+15.
  EXPECT_EQ(Values(y), (std::vector<float>{45, 39, 66, 50}));
  // (torch's symmetric padding=1 would give 10, ... instead.)
}

TEST(TfOpsTest, Conv2dSameStride1AndBias) {
  const torch::Tensor ones = ConvFilterToTorch(torch::ones({3, 3, 1, 1}));
  const torch::Tensor y = Conv2dSame(Ramp(3, 3), ones, torch::full({1}, 0.5f), 1);
  EXPECT_EQ(Values(y), (std::vector<float>{8.5, 15.5, 12.5, 21.5, 36.5, 27.5, 20.5, 33.5, 24.5}));
}

TEST(TfOpsTest, ConvFilterConversionKeepsTfChannelOrder) {
  // 1x1 conv, 2 in -> 3 out, TF filter[0][0][i][o] = 10 * i + o.
  torch::Tensor hwio = torch::zeros({1, 1, 2, 3});
  for (int i = 0; i < 2; ++i) {
    for (int o = 0; o < 3; ++o) hwio[0][0][i][o] = 10.0f * i + o;
  }
  const torch::Tensor w = ConvFilterToTorch(hwio);
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{3, 2, 1, 1}));
  const torch::Tensor x = torch::tensor({1.0f, 2.0f}).reshape({1, 2, 1, 1});
  // y[o] = 1 * o + 2 * (10 + o).
  EXPECT_EQ(Values(Conv2dSame(x, w, {}, 1)), (std::vector<float>{20, 23, 26}));
}

TEST(TfOpsTest, DepthwiseConvUsesOneKernelPerChannelUnflipped) {
  // Channel 0: 1 at the kernel's top-left (TF correlates, so out[y][x] =
  // in[y-1][x-1]); channel 1: 2 at the bottom-right (out = 2 * in[y+1][x+1]).
  torch::Tensor hwim = torch::zeros({3, 3, 2, 1});
  hwim[0][0][0][0] = 1.0f;
  hwim[2][2][1][0] = 2.0f;
  const torch::Tensor w = DepthwiseFilterToTorch(hwim);
  ASSERT_EQ(w.sizes(), (std::vector<int64_t>{2, 1, 3, 3}));
  const torch::Tensor x = torch::cat({Ramp(3, 3), Ramp(3, 3) + 100}, 1);
  const torch::Tensor y = Conv2dSame(x, w, {}, 1, /*groups=*/2);
  EXPECT_EQ(Values(y[0][0]), (std::vector<float>{0, 0, 0, 0, 0, 1, 0, 3, 4}));
  EXPECT_EQ(Values(y[0][1]), (std::vector<float>{208, 210, 0, 214, 216, 0, 0, 0, 0}));
}

TEST(TfOpsTest, SeparableConvIsDepthwiseThenPointwisePlusBias) {
  SeparableConv conv;
  conv.depthwise = DepthwiseFilterToTorch(torch::ones({3, 3, 1, 1}));
  conv.pointwise = ConvFilterToTorch(torch::tensor({1.0f, -1.0f}).reshape({1, 1, 1, 2}));
  conv.bias = torch::tensor({0.25f, 0.5f});
  const torch::Tensor y = SeparableConv2dSame(Ramp(4, 4), conv, 2);
  EXPECT_EQ(Values(y[0][0]), (std::vector<float>{45.25, 39.25, 66.25, 50.25}));
  EXPECT_EQ(Values(y[0][1]), (std::vector<float>{-44.5, -38.5, -65.5, -49.5}));
}

TEST(TfOpsTest, AvgPoolValidDropsIncompleteWindows) {
  // 2x2 windows, stride 2 on 5x5: the last row/column is dropped.
  const torch::Tensor y = AvgPoolValid(Ramp(5, 5), 2, 2);
  EXPECT_EQ(Values(y), (std::vector<float>{3, 5, 13, 15}));
}

TEST(TfOpsTest, ResizeBilinearUpscaleUsesDstTimesInOverOut) {
  // NHWC [1, 2, 2, 1] -> 3x3. Source coordinates 0, 2/3, 4/3 (the last one
  // clamped to row/col 1).
  const torch::Tensor x = torch::tensor({0.0f, 10.0f, 20.0f, 30.0f}).reshape({1, 2, 2, 1});
  const torch::Tensor y = ResizeBilinear(x, 3, 3);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 3, 3, 1}));
  const double t = 2.0 / 3.0;
  auto f = [](double v) { return static_cast<float>(v); };
  const std::vector<float> expected = {0.0f,      f(10 * t),          10.0f,           //
                                       f(20 * t), f(10 * t + 20 * t), f(10 + 20 * t),  //
                                       20.0f,     f(20 + 10 * t),     30.0f};
  EXPECT_EQ(Values(y), expected);
}

TEST(TfOpsTest, ResizeBilinearDownscaleSamplesWithoutHalfPixelOffset) {
  // 1 x 4 -> 1 x 2 with 2 channels: picks source columns 0 and 2 exactly
  // (half-pixel centers would average pairs: 0.5, 2.5).
  const torch::Tensor x =
      torch::tensor({0.0f, 100.0f, 1.0f, 101.0f, 2.0f, 102.0f, 3.0f, 103.0f}).reshape({1, 1, 4, 2});
  EXPECT_EQ(Values(ResizeBilinear(x, 1, 2)), (std::vector<float>{0, 100, 2, 102}));
  // 3 -> 2 columns: source 0 and 1.5.
  const torch::Tensor z = torch::tensor({0.0f, 1.0f, 5.0f}).reshape({1, 1, 3, 1});
  EXPECT_EQ(Values(ResizeBilinear(z, 1, 2)), (std::vector<float>{0, 3}));
}

TEST(TfOpsTest, ResizeBilinearBatchesIndependently) {
  const torch::Tensor a = torch::rand({1, 7, 5, 3}) * 255;
  const torch::Tensor b = torch::rand({1, 7, 5, 3}) * 255;
  const torch::Tensor both = ResizeBilinear(torch::cat({a, b}), 11, 4);
  EXPECT_TRUE(torch::equal(both[0], ResizeBilinear(a, 11, 4)[0]));
  EXPECT_TRUE(torch::equal(both[1], ResizeBilinear(b, 11, 4)[0]));
  EXPECT_TRUE(torch::equal(ResizeBilinear(a, 7, 5), a));  // same size: identity
}

TEST(TfOpsTest, PadToSquareCenteredPutsTheLargerHalfAtTheEnd) {
  // 2 rows x 5 cols: 3 rows to add, round(1.5) = 2 at the bottom, 1 on top.
  const torch::Tensor x = torch::ones({1, 2, 5, 1});
  const torch::Tensor centered = PadToSquare(x, true);
  ASSERT_EQ(centered.sizes(), (std::vector<int64_t>{1, 5, 5, 1}));
  EXPECT_EQ(Values(centered.sum({2, 3})), (std::vector<float>{0, 5, 5, 0, 0}));
  const torch::Tensor end = PadToSquare(x, false);
  EXPECT_EQ(Values(end.sum({2, 3})), (std::vector<float>{5, 5, 0, 0, 0}));
  // 4 rows x 1 col: 3 columns to add, 2 on the right, 1 on the left.
  const torch::Tensor tall = PadToSquare(torch::ones({1, 4, 1, 1}), true);
  EXPECT_EQ(Values(tall.sum({1, 3})), (std::vector<float>{0, 4, 0, 0}));
  // 2 x 4: even difference, 1 each side.
  EXPECT_EQ(Values(PadToSquare(torch::ones({1, 2, 4, 1}), true).sum({2, 3})),
            (std::vector<float>{0, 4, 4, 0}));
  // Square input: unchanged.
  EXPECT_TRUE(
      torch::equal(PadToSquare(torch::ones({1, 3, 3, 2}), true), torch::ones({1, 3, 3, 2})));
}

}  // namespace
}  // namespace fer::tf
