#include "lib/serving/clip_stream.h"

#include <gtest/gtest.h>

#include <vector>

namespace fer {
namespace {

// A 1-pixel-high crop whose width tags it.
RgbImage Crop(int tag) {
  RgbImage crop;
  crop.width = tag;
  crop.height = 1;
  crop.pixels.assign(static_cast<size_t>(tag) * 3, 0);
  return crop;
}

std::vector<int> Tags(const std::vector<RgbImage>& clip) {
  std::vector<int> tags;
  for (const RgbImage& c : clip) tags.push_back(c.width);
  return tags;
}

TEST(ClipStreamTest, FirstClipWhenTheRingIsFullThenEveryStrideFrames) {
  ClipStream stream(4, 2);
  std::vector<uint64_t> due;
  for (uint64_t i = 0; i < 12; ++i) {
    if (stream.Add(Crop(static_cast<int>(i) + 1), i)) due.push_back(i);
  }
  EXPECT_EQ(due, (std::vector<uint64_t>{3, 5, 7, 9, 11}));
  EXPECT_EQ(Tags(stream.Clip()), (std::vector<int>{9, 10, 11, 12}));
  EXPECT_EQ(stream.first_frame_index(), 8u);
  EXPECT_EQ(stream.size(), 4);
}

TEST(ClipStreamTest, FrameWithoutAFaceRestartsTheClip) {
  ClipStream stream(3, 1);
  EXPECT_FALSE(stream.Add(Crop(1), 0));
  EXPECT_FALSE(stream.Add(Crop(2), 1));
  EXPECT_TRUE(stream.Add(Crop(3), 2));
  EXPECT_TRUE(stream.Add(Crop(4), 3));
  EXPECT_FALSE(stream.Add(RgbImage(), 4));  // no face
  EXPECT_EQ(stream.size(), 0);
  EXPECT_FALSE(stream.Add(Crop(6), 5));
  EXPECT_FALSE(stream.Add(Crop(7), 6));
  EXPECT_TRUE(stream.Add(Crop(8), 7));
  EXPECT_EQ(Tags(stream.Clip()), (std::vector<int>{6, 7, 8}));
  EXPECT_EQ(stream.first_frame_index(), 5u);
}

TEST(ClipStreamTest, StrideLongerThanTheClip) {
  ClipStream stream(2, 5);
  std::vector<uint64_t> due;
  for (uint64_t i = 0; i < 13; ++i) {
    if (stream.Add(Crop(1), i)) due.push_back(i);
  }
  EXPECT_EQ(due, (std::vector<uint64_t>{1, 6, 11}));
}

TEST(ClipStreamTest, OneFrameClipsAreDueEveryFrame) {
  ClipStream stream(1, 1);
  for (uint64_t i = 0; i < 5; ++i) EXPECT_TRUE(stream.Add(Crop(2), i));
  EXPECT_EQ(Tags(stream.Clip()), (std::vector<int>{2}));
}

}  // namespace
}  // namespace fer
