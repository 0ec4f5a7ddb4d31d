#include "lib/vision/frame_decoder.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/status/status.h"
#include "lib/vision/image_file.h"
#include "tests/file_contents.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

RgbImage Gradient(int width, int height) {
  RgbImage image{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 7);
  return image;
}

TEST(FrameDecoderTest, DecodesARealJpeg) {
  const std::string bytes = testing::ReadFileContents(testing::DemoPhoto(1));
  absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->codec, ImageCodec::kJpeg);
  absl::StatusOr<RgbImage> image = DecodeEncodedFrame(bytes, FrameLimits{});
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->width, header->width);
  EXPECT_EQ(image->height, header->height);
  EXPECT_EQ(image->pixels.size(), static_cast<size_t>(image->width) * image->height * 3);
}

TEST(FrameDecoderTest, PngRoundTripIsLossless) {
  const RgbImage original = Gradient(17, 9);
  absl::StatusOr<std::string> png = EncodePng(original);
  ASSERT_TRUE(png.ok());
  absl::StatusOr<RgbImage> decoded = DecodeEncodedFrame(*png, FrameLimits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->pixels, original.pixels);
}

TEST(FrameDecoderTest, RejectsEmptyBytes) {
  absl::StatusOr<RgbImage> image = DecodeEncodedFrame("", FrameLimits{});
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(image.status().message().find("empty"), std::string::npos);
}

TEST(FrameDecoderTest, RejectsUnknownFormat) {
  absl::StatusOr<RgbImage> image = DecodeEncodedFrame("GIF89a......", FrameLimits{});
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(image.status().message().find("unsupported image format"), std::string::npos);
}

TEST(FrameDecoderTest, RejectsCorruptJpeg) {
  std::string bytes = testing::ReadFileContents(testing::DemoPhoto(2));
  bytes.resize(600);  // header intact, entropy-coded data cut short
  absl::StatusOr<RgbImage> image = DecodeEncodedFrame(bytes, FrameLimits{});
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(image.status().message().find("corrupt"), std::string::npos) << image.status();
}

TEST(FrameDecoderTest, RejectsGarbageAfterJpegMagic) {
  std::string bytes = "\xFF\xD8\xFF";
  bytes += std::string(100, '\x00');
  EXPECT_EQ(DecodeEncodedFrame(bytes, FrameLimits{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FrameDecoderTest, RefusesHugeHeaderBeforeDecoding) {
  absl::StatusOr<std::string> png = EncodePng(Gradient(4, 4));
  ASSERT_TRUE(png.ok());
  std::string bytes = *png;
  // Rewrite IHDR to claim 20000 x 20000.
  const unsigned char big[4] = {0x00, 0x00, 0x4E, 0x20};
  bytes.replace(16, 4, reinterpret_cast<const char*>(big), 4);
  bytes.replace(20, 4, reinterpret_cast<const char*>(big), 4);
  absl::StatusOr<RgbImage> image = DecodeEncodedFrame(bytes, FrameLimits{4096});
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(image.status().message().find("20000x20000"), std::string::npos) << image.status();
}

TEST(FrameDecoderTest, RawRgbIsCopied) {
  const RgbImage src = Gradient(5, 3);
  RawFrame raw{
      5, 3, 0, PixelFormat::kRgb8,
      absl::string_view(reinterpret_cast<const char*>(src.pixels.data()), src.pixels.size())};
  absl::StatusOr<RgbImage> image = DecodeRawFrame(raw, FrameLimits{});
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->pixels, src.pixels);
}

TEST(FrameDecoderTest, RawBgrWithStrideIsConverted) {
  // 2x2 BGR with 2 bytes of row padding.
  const std::string bytes = std::string("\x01\x02\x03\x04\x05\x06..\x07\x08\x09\x0A\x0B\x0C..", 16);
  RawFrame raw{2, 2, 8, PixelFormat::kBgr8, bytes};
  absl::StatusOr<RgbImage> image = DecodeRawFrame(raw, FrameLimits{});
  ASSERT_TRUE(image.ok()) << image.status();
  const std::vector<uint8_t> want = {3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10};
  EXPECT_EQ(image->pixels, want);
  raw.pixels = bytes.substr(0, 14);  // last row's padding omitted is fine
  EXPECT_TRUE(DecodeRawFrame(raw, FrameLimits{}).ok());
}

TEST(FrameDecoderTest, RawGrayAndRgba) {
  // RawFrame only views its pixels: the bytes must outlive it.
  const std::string gray_bytes("\x10\x20", 2);
  RawFrame gray{2, 1, 0, PixelFormat::kGray8, gray_bytes};
  absl::StatusOr<RgbImage> g = DecodeRawFrame(gray, FrameLimits{});
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->pixels, (std::vector<uint8_t>{16, 16, 16, 32, 32, 32}));
  const std::string rgba_bytes("\x01\x02\x03\xFF", 4);
  RawFrame rgba{1, 1, 0, PixelFormat::kRgba8, rgba_bytes};
  absl::StatusOr<RgbImage> c = DecodeRawFrame(rgba, FrameLimits{});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->pixels, (std::vector<uint8_t>{1, 2, 3}));
}

TEST(FrameDecoderTest, RawErrorsAreInvalidArgument) {
  const std::string six(6, 'x');
  struct Case {
    RawFrame frame;
    const char* expect;
  } cases[] = {
      {{0, 0, 0, PixelFormat::kRgb8, ""}, "at least 1"},
      {{2, 1, 0, PixelFormat::kRgb8, std::string(5, 'x')}, "needs 6"},
      {{2, 1, 0, PixelFormat::kRgb8, std::string(7, 'x')}, "needs 6"},
      {{2, 1, 0, PixelFormat::kUnspecified, six}, "unsupported pixel format"},
      {{2, 1, 4, PixelFormat::kRgb8, six}, "stride"},
      {{20000, 20000, 0, PixelFormat::kRgb8, six}, "at most 4096"},
      {{-3, 2, 0, PixelFormat::kGray8, six}, "at least 1"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<RgbImage> image = DecodeRawFrame(c.frame, FrameLimits{});
    EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument) << c.expect;
    EXPECT_NE(image.status().message().find(c.expect), std::string::npos) << image.status();
  }
}

}  // namespace
}  // namespace fer
