#include "lib/vision/frame_decoder.h"

#include <cstring>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fer {
namespace {

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint16_t BigEndian16(const unsigned char* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

absl::StatusOr<ImageHeader> ReadPngHeader(absl::string_view bytes) {
  // 8-byte signature, then the IHDR chunk: length(4) "IHDR"(4) width(4) height(4).
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 24 || std::memcmp(p + 12, "IHDR", 4) != 0) {
    return absl::InvalidArgumentError("corrupt PNG: missing IHDR header");
  }
  return ImageHeader{ImageCodec::kPng, BigEndian32(p + 16), BigEndian32(p + 20)};
}

absl::StatusOr<ImageHeader> ReadJpegHeader(absl::string_view bytes) {
  // Walk the marker segments up to the first start-of-frame (SOFn).
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t i = 2;
  while (i + 4 <= bytes.size()) {
    if (p[i] != 0xFF) return absl::InvalidArgumentError("corrupt JPEG: bad marker");
    const unsigned char marker = p[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
      i += 2;
      continue;
    }
    const uint16_t length = BigEndian16(p + i + 2);
    if (length < 2) return absl::InvalidArgumentError("corrupt JPEG: bad segment length");
    const bool is_sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_sof) {
      if (i + 9 > bytes.size()) break;
      return ImageHeader{ImageCodec::kJpeg, BigEndian16(p + i + 7), BigEndian16(p + i + 5)};
    }
    if (marker == 0xD9 || marker == 0xDA) break;  // end of image / start of scan before SOF
    i += 2 + length;
  }
  return absl::InvalidArgumentError("corrupt JPEG: no frame header found");
}

absl::Status CheckSize(int64_t width, int64_t height, const FrameLimits& limits) {
  if (width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image is ", width, "x", height, " pixels; both sides must be at least 1"));
  }
  if (width > limits.max_side || height > limits.max_side) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image is ", width, "x", height, " pixels; each side must be at most ", limits.max_side));
  }
  return absl::OkStatus();
}

RgbImage FromMat(const cv::Mat& rgb) {
  RgbImage image;
  image.width = rgb.cols;
  image.height = rgb.rows;
  image.pixels.resize(static_cast<size_t>(rgb.cols) * rgb.rows * 3);
  for (int y = 0; y < rgb.rows; ++y) {
    std::memcpy(image.pixels.data() + static_cast<size_t>(y) * rgb.cols * 3, rgb.ptr(y),
                static_cast<size_t>(rgb.cols) * 3);
  }
  return image;
}

}  // namespace

int BytesPerPixel(PixelFormat format) {
  switch (format) {
    case PixelFormat::kRgb8:
    case PixelFormat::kBgr8:
      return 3;
    case PixelFormat::kRgba8:
      return 4;
    case PixelFormat::kGray8:
      return 1;
    case PixelFormat::kUnspecified:
      break;
  }
  return 0;
}

absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("empty image bytes");
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  static constexpr unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() >= 8 && std::memcmp(p, kPng, 8) == 0) return ReadPngHeader(bytes);
  if (bytes.size() >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
    return ReadJpegHeader(bytes);
  }
  return absl::InvalidArgumentError("unsupported image format: expected JPEG or PNG bytes");
}

absl::StatusOr<RgbImage> DecodeEncodedFrame(absl::string_view bytes, const FrameLimits& limits) {
  absl::StatusOr<ImageHeader> header = ReadImageHeader(bytes);
  if (!header.ok()) return header.status();
  if (absl::Status s = CheckSize(header->width, header->height, limits); !s.ok()) return s;

  const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(buffer, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("corrupt image: ", e.what()));
  }
  if (bgr.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("corrupt ", header->codec == ImageCodec::kJpeg ? "JPEG" : "PNG",
                     ": the image data could not be decoded"));
  }
  if (bgr.cols != header->width || bgr.rows != header->height) {
    return absl::InvalidArgumentError("corrupt image: decoded size differs from its header");
  }
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return FromMat(rgb);
}

absl::StatusOr<RgbImage> DecodeRawFrame(const RawFrame& frame, const FrameLimits& limits) {
  const int bpp = BytesPerPixel(frame.format);
  if (bpp == 0) {
    return absl::InvalidArgumentError("unsupported pixel format: use RGB8, BGR8, RGBA8 or GRAY8");
  }
  if (absl::Status s = CheckSize(frame.width, frame.height, limits); !s.ok()) return s;
  const int64_t row_bytes = frame.width * bpp;
  const int64_t stride = frame.stride == 0 ? row_bytes : frame.stride;
  if (stride < row_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("stride ", stride, " is smaller than width * ",
                                                   bpp, " = ", row_bytes, " bytes"));
  }
  const int64_t minimal = stride * (frame.height - 1) + row_bytes;
  const int64_t padded = stride * frame.height;
  const auto size = static_cast<int64_t>(frame.pixels.size());
  if (size != minimal && size != padded) {
    return absl::InvalidArgumentError(
        absl::StrCat("raw frame has ", size, " bytes; ", frame.width, "x", frame.height,
                     " with stride ", stride, " and ", bpp, " bytes per pixel needs ", minimal,
                     minimal == padded ? "" : absl::StrCat(" or ", padded)));
  }
  const int cv_type = bpp == 1 ? CV_8UC1 : (bpp == 3 ? CV_8UC3 : CV_8UC4);
  const cv::Mat src(static_cast<int>(frame.height), static_cast<int>(frame.width), cv_type,
                    const_cast<char*>(frame.pixels.data()), static_cast<size_t>(stride));
  cv::Mat rgb;
  switch (frame.format) {
    case PixelFormat::kRgb8:
      rgb = src;
      break;
    case PixelFormat::kBgr8:
      cv::cvtColor(src, rgb, cv::COLOR_BGR2RGB);
      break;
    case PixelFormat::kRgba8:
      cv::cvtColor(src, rgb, cv::COLOR_RGBA2RGB);
      break;
    case PixelFormat::kGray8:
      cv::cvtColor(src, rgb, cv::COLOR_GRAY2RGB);
      break;
    case PixelFormat::kUnspecified:
      break;
  }
  return FromMat(rgb);
}

}  // namespace fer
