#ifndef FERSERVE_LIB_VISION_IMAGE_H_
#define FERSERVE_LIB_VISION_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fer {

// An 8-bit RGB image with tightly packed rows (height x width x 3, HWC).
// The common currency between decoding and the models.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // width * height * 3 bytes

  bool empty() const { return width <= 0 || height <= 0; }
  const uint8_t* row(int y) const { return pixels.data() + static_cast<size_t>(y) * width * 3; }
};

}  // namespace fer

#endif  // FERSERVE_LIB_VISION_IMAGE_H_
