#include "lib/model/net_input.h"

#include <gtest/gtest.h>

#include <vector>

#include "lib/model/tf_ops.h"
#include "tests/model/face_test_images.h"

namespace fer {
namespace {

// face-api's toBatchTensor spelled out with the TF ops: padToSquare(x, true)
// then resizeBilinear to input_size, on the region's pixels as float32.
torch::Tensor ReferenceInput(const RgbImage& image, const PixelRect& rect, int input_size) {
  const RgbImage crop = testing::CropImage(image, rect);
  const torch::Tensor pixels = torch::from_blob(const_cast<uint8_t*>(crop.pixels.data()),
                                                {1, crop.height, crop.width, 3}, torch::kUInt8)
                                   .to(torch::kFloat32);
  const torch::Tensor square = tf::PadToSquare(pixels, /*center=*/true);
  if (square.size(1) == input_size) return square;
  return tf::ResizeBilinear(square, input_size, input_size);
}

TEST(CropsToBatchTensorTest, BitIdenticalToPadToSquareAndResizeBilinear) {
  const RgbImage image = testing::SyntheticImage();  // 160 x 120
  const std::vector<PixelRect> rects = {
      {0, 0, 112, 112},   // already the input size: no resize
      {10, 5, 90, 70},    // wider than tall, upscaled
      {30, 0, 71, 100},   // taller than wide, odd padding
      {0, 0, 160, 120},   // downscaled
      {40, 8, 112, 100},  // padded to exactly the input size
      {3, 3, 1, 1},       // one pixel
      {5, 0, 150, 3},     // a sliver
  };
  for (const PixelRect& rect : rects) {
    SCOPED_TRACE(::testing::Message() << rect.width << "x" << rect.height);
    const torch::Tensor got = CropsToBatchTensor({{&image, rect}}, 112);
    const torch::Tensor want = ReferenceInput(image, rect, 112);
    ASSERT_EQ(got.sizes(), want.sizes());
    EXPECT_TRUE(torch::equal(got, want));
  }
}

TEST(CropsToBatchTensorTest, StacksRegionsInOrder) {
  const RgbImage image = testing::SyntheticImage();
  const PixelRect a{0, 0, 50, 60}, b{70, 20, 80, 40};
  const torch::Tensor batch = CropsToBatchTensor({{&image, a}, {&image, b}}, 64);
  ASSERT_EQ(batch.sizes(), (std::vector<int64_t>{2, 64, 64, 3}));
  EXPECT_TRUE(torch::equal(batch[0], ReferenceInput(image, a, 64)[0]));
  EXPECT_TRUE(torch::equal(batch[1], ReferenceInput(image, b, 64)[0]));
}

}  // namespace
}  // namespace fer
