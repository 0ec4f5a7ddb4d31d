// libFuzzer target: untrusted frame bytes, as StreamPredict and EnrollNeutral
// receive them, through the encoded-image and raw-pixel decoders. Any input
// must give an image within the limits or an error, never a crash.
#include <cstdint>
#include <cstring>

#include "lib/vision/frame_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  fer::FrameLimits limits;
  limits.max_side = 1024;  // keeps decodes small enough for fuzzing speed
  absl::StatusOr<fer::RgbImage> image = fer::DecodeEncodedFrame(bytes, limits);
  if (image.ok() && (image->width > limits.max_side || image->height > limits.max_side)) {
    __builtin_trap();
  }
  // The same bytes as a raw frame: the first 7 bytes choose its geometry.
  if (size >= 7) {
    fer::RawFrame raw;
    raw.width = data[0] | (data[1] << 8);
    raw.height = data[2] | (data[3] << 8);
    raw.stride = data[4] | (data[5] << 8);
    raw.format = static_cast<fer::PixelFormat>(data[6] % 5);
    raw.pixels = bytes.substr(7);
    (void)fer::DecodeRawFrame(raw, limits);
  }
  return 0;
}
