#ifndef FERSERVE_LIB_VISION_FRAME_DECODER_H_
#define FERSERVE_LIB_VISION_FRAME_DECODER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/vision/image.h"

namespace fer {

// Bounds on what a client may send, checked before any pixel is decoded.
struct FrameLimits {
  int max_side = 4096;  // width and height each at most this many pixels
};

enum class PixelFormat { kUnspecified, kRgb8, kBgr8, kRgba8, kGray8 };

// Bytes per pixel of a format; 0 for kUnspecified.
int BytesPerPixel(PixelFormat format);

// Raw interleaved 8-bit pixels as a client sends them. `pixels` is not owned.
struct RawFrame {
  int64_t width = 0;
  int64_t height = 0;
  int64_t stride = 0;  // bytes per row; 0 means tightly packed
  PixelFormat format = PixelFormat::kUnspecified;
  absl::string_view pixels;
};

enum class ImageCodec { kJpeg, kPng };

// Size and codec read from an encoded image's header, without decoding it.
struct ImageHeader {
  ImageCodec codec;
  int64_t width = 0;
  int64_t height = 0;
};

// Reads the header of a JPEG or PNG. InvalidArgument for empty bytes, an
// unknown format, or a header that cannot be parsed.
absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes);

// Decodes JPEG or PNG bytes to RGB. The header is checked against `limits`
// first, so a file claiming huge dimensions is refused without allocating.
// All errors are InvalidArgument with a message a client can act on.
absl::StatusOr<RgbImage> DecodeEncodedFrame(absl::string_view bytes, const FrameLimits& limits);

// Converts raw pixels to RGB after checking sizes, stride, byte count and
// format. All errors are InvalidArgument.
absl::StatusOr<RgbImage> DecodeRawFrame(const RawFrame& frame, const FrameLimits& limits);

}  // namespace fer

#endif  // FERSERVE_LIB_VISION_FRAME_DECODER_H_
