#include "lib/model/detector_ops.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "lib/model/tf_ops.h"
#include "lib/vision/image.h"

namespace fer::detector {
namespace {

// A deterministic, non-uniform test image.
RgbImage PatternImage(int width, int height) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    image.pixels[i] = static_cast<uint8_t>((i * 37 + i / 7 * 11) % 256);
  }
  return image;
}

torch::Tensor ToNhwc(const RgbImage& image) {
  return torch::from_blob(const_cast<uint8_t*>(image.pixels.data()),
                          {1, image.height, image.width, 3}, torch::kUInt8)
      .to(torch::kFloat32);
}

// NetInput.toBatchTensor spelled with the general TF ops: pad, then resize.
torch::Tensor Reference(const RgbImage& image, int size, bool center) {
  torch::Tensor square = tf::PadToSquare(ToNhwc(image), center);
  if (square.size(1) == size) return square;
  return tf::ResizeBilinear(square, size, size);
}

TEST(ImageToBatchTensorTest, BitIdenticalToPadThenResize) {
  const std::vector<std::array<int, 2>> shapes = {{37, 23}, {23, 37}, {64, 64},   {1, 1},
                                                  {300, 2}, {3, 250}, {512, 300}, {411, 700}};
  for (const auto& [width, height] : shapes) {
    const RgbImage image = PatternImage(width, height);
    for (int size : {32, 112, 416, 512}) {
      for (bool center : {false, true}) {
        const torch::Tensor got = ImageToBatchTensor(image, size, center);
        const torch::Tensor want = Reference(image, size, center);
        ASSERT_EQ(got.sizes(), want.sizes());
        EXPECT_TRUE(torch::equal(got, want))
            << width << "x" << height << " -> " << size << (center ? " centered" : "")
            << ": max diff " << (got - want).abs().max().item<float>();
      }
    }
  }
}

TEST(ImageToBatchTensorTest, PadsBottomRightUnlessCentered) {
  RgbImage image;  // 2 wide, 1 high, all 200
  image.width = 2;
  image.height = 1;
  image.pixels.assign(6, 200);
  const torch::Tensor bottom = ImageToBatchTensor(image, 2, /*center=*/false);
  EXPECT_EQ(bottom[0][0][0][0].item<float>(), 200);
  EXPECT_EQ(bottom[0][1][0][0].item<float>(), 0);
  const torch::Tensor centered = ImageToBatchTensor(image, 2, /*center=*/true);
  // diff 1: Math.round(0.5) = 1 row appended, none prepended.
  EXPECT_EQ(centered[0][0][1][2].item<float>(), 200);
  EXPECT_EQ(centered[0][1][1][2].item<float>(), 0);
}

TEST(ImageToBatchTensorTest, UsesTfSourceCoordinatesNotHalfPixel) {
  // 4 -> 2: TF samples source pixels 0 and 2 exactly (src = dst * 2);
  // half-pixel interpolation would average pairs instead.
  RgbImage image;
  image.width = 4;
  image.height = 4;
  image.pixels.resize(48);
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) {
      for (int d = 0; d < 3; ++d) image.pixels[(y * 4 + x) * 3 + d] = static_cast<uint8_t>(x * 10);
    }
  }
  const torch::Tensor out = ImageToBatchTensor(image, 2, false);
  EXPECT_EQ(out[0][0][0][0].item<float>(), 0);
  EXPECT_EQ(out[0][0][1][0].item<float>(), 20);
}

TEST(ReshapedDimensionsTest, RoundsLikeJavaScript) {
  Dims d = ReshapedDimensions(1920, 1280, 512);  // 341.33
  EXPECT_EQ(d.width, 512);
  EXPECT_EQ(d.height, 341);
  d = ReshapedDimensions(3, 1, 2);  // 0.666 -> 1
  EXPECT_EQ(d.width, 2);
  EXPECT_EQ(d.height, 1);
  d = ReshapedDimensions(1024, 1, 512);  // 0.5 rounds up
  EXPECT_EQ(d.height, 1);
  d = ReshapedDimensions(5000, 1, 512);  // 0.1 -> 0 in face-api, 1 here
  EXPECT_EQ(d.width, 512);
  EXPECT_EQ(d.height, 1);
}

TEST(MaxPoolSameTest, PadsAtTheEndAndIgnoresPadding) {
  // 3x3 of negative values: 'same' pooling 2x2/2 -> 2x2, padding never wins.
  const torch::Tensor x = -torch::arange(1, 10, torch::kFloat32).view({1, 1, 3, 3});
  const torch::Tensor y = MaxPoolSame(x, 2, 2);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(y[0][0][0][0].item<float>(), -1);  // {-1,-2,-4,-5}
  EXPECT_EQ(y[0][0][0][1].item<float>(), -3);  // {-3,-6} + padding
  EXPECT_EQ(y[0][0][1][0].item<float>(), -7);  // {-7,-8} + padding
  EXPECT_EQ(y[0][0][1][1].item<float>(), -9);
  // Same values as max_pool2d on the -inf padded input, odd and even sizes.
  for (int64_t size : {13, 14, 207, 414}) {
    const torch::Tensor in = torch::randn({2, 3, size, size + 1});
    for (int64_t stride : {1, 2}) {
      const torch::Tensor padded = torch::constant_pad_nd(
          in,
          {0, (size + 1) % stride == 0 ? 2 - stride : 1, 0, size % stride == 0 ? 2 - stride : 1},
          -std::numeric_limits<float>::infinity());
      EXPECT_TRUE(torch::equal(MaxPoolSame(in, 2, stride),
                               torch::max_pool2d(padded, {2, 2}, {stride, stride})))
          << size << " stride " << stride;
    }
  }
  // Stride 1 keeps the size.
  EXPECT_EQ(MaxPoolSame(x, 2, 1).sizes(), x.sizes());
  EXPECT_EQ(MaxPoolSame(x, 2, 1)[0][0][2][2].item<float>(), -9);
}

TEST(SsdNonMaxSuppressionTest, KeepsBestOfOverlappingBoxes) {
  const std::vector<std::array<float, 4>> boxes = {
      {0.1f, 0.1f, 0.3f, 0.3f},     // 0
      {0.11f, 0.1f, 0.31f, 0.3f},   // 1: duplicate of 0, better score
      {0.5f, 0.5f, 0.7f, 0.7f},     // 2: elsewhere
      {0.5f, 0.55f, 0.7f, 0.75f},   // 3: IoU 0.6 with 2
      {0.5f, 0.62f, 0.7f, 0.82f}};  // 4: IoU 0.25 with 2 -> kept
  const std::vector<float> scores = {0.8f, 0.9f, 0.7f, 0.65f, 0.6f};
  EXPECT_EQ(SsdNonMaxSuppression(boxes, scores, 100, 0.5, 0.5), (std::vector<int>{1, 2, 4}));
  // Scores must be strictly above the threshold.
  EXPECT_EQ(SsdNonMaxSuppression(boxes, scores, 100, 0.5, 0.7), (std::vector<int>{1}));
  // max_output caps the count.
  EXPECT_EQ(SsdNonMaxSuppression(boxes, scores, 2, 0.5, 0.5), (std::vector<int>{1, 2}));
  // Ties keep index order.
  EXPECT_EQ(SsdNonMaxSuppression({{0, 0, 0.1f, 0.1f}, {0.5f, 0.5f, 0.6f, 0.6f}}, {0.7f, 0.7f}, 10,
                                 0.5, 0.5),
            (std::vector<int>{0, 1}));
}

TEST(NonMaxSuppressionTest, PicksBestFirstAndDropsOverlaps) {
  const std::vector<RectD> boxes = {
      {0, 0, 10, 10}, {1, 0, 10, 10}, {20, 20, 10, 10}, {0, 5, 10, 10}};
  const std::vector<double> scores = {0.6, 0.9, 0.7, 0.8};
  // 1 first; 0 overlaps it by 9/11 -> dropped; 3 overlaps 1 by 45/155 -> kept.
  EXPECT_EQ(NonMaxSuppression(boxes, scores, 0.4), (std::vector<int>{1, 3, 2}));
  // Equal scores: the highest index comes first (pop from an ascending sort).
  EXPECT_EQ(NonMaxSuppression({{0, 0, 1, 1}, {5, 5, 1, 1}}, {0.5, 0.5}, 0.4),
            (std::vector<int>{1, 0}));
  EXPECT_TRUE(NonMaxSuppression({}, {}, 0.4).empty());
}

TEST(ValidateTest, RejectsWhatFaceApiRejects) {
  EXPECT_TRUE(ValidateOptions(DetectOptions{}).ok());
  EXPECT_EQ(ValidateOptions({0.f, 10}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateOptions({1.f, 10}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateOptions({0.5f, 0}).code(), absl::StatusCode::kInvalidArgument);
  RgbImage image;
  EXPECT_EQ(ValidateImage(image).code(), absl::StatusCode::kInvalidArgument);
  image.width = 2;
  image.height = 2;
  image.pixels.resize(11);
  EXPECT_EQ(ValidateImage(image).code(), absl::StatusCode::kInvalidArgument);
  image.pixels.resize(12);
  EXPECT_TRUE(ValidateImage(image).ok());
}

}  // namespace
}  // namespace fer::detector
