#ifndef FERSERVE_TESTS_MODEL_FACE_TEST_IMAGES_H_
#define FERSERVE_TESTS_MODEL_FACE_TEST_IMAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "lib/model/net_input.h"
#include "lib/vision/image.h"
#include "lib/vision/image_file.h"
#include "tests/test_assets.h"

// Images shared by the face network tests.
namespace fer::testing {

// A deterministic 160 x 120 pattern with structure at many scales. The
// expected outputs in the tests were computed by face-api 1.7.15 on
// TensorFlow.js 4.22.0 (cpu backend) from exactly these pixels.
inline RgbImage SyntheticImage() {
  RgbImage image{160, 120, std::vector<uint8_t>(160 * 120 * 3)};
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        image.pixels[(y * image.width + x) * 3 + c] =
            static_cast<uint8_t>((x * 7 + y * 13 + c * 101 + ((x * y) % 31) * 5) % 256);
      }
    }
  }
  return image;
}

// face-api's demo photo sample<i>.jpg, decoded by OpenCV to RGB.
inline RgbImage DemoImage(int i) {
  absl::StatusOr<RgbImage> image = ReadImageFile(DemoPhoto(i));
  return image.ok() ? *std::move(image) : RgbImage{};
}

// The pixels of `rect` as an image of their own.
inline RgbImage CropImage(const RgbImage& image, const PixelRect& rect) {
  RgbImage crop{rect.width, rect.height, {}};
  for (int y = 0; y < rect.height; ++y) {
    const uint8_t* row = image.row(rect.y + y) + rect.x * 3;
    crop.pixels.insert(crop.pixels.end(), row, row + rect.width * 3);
  }
  return crop;
}

// Face crops of the demo photos: the regions face-api's pipeline (SSD
// detection, landmarks, alignment) feeds to the expression net.
// sample6.jpg: a clearly smiling face and a neutral one.
inline constexpr PixelRect kSmilingFaceSample6{645, 382, 241, 257};
inline constexpr PixelRect kNeutralFaceSample6{1143, 378, 251, 211};
// sample3.jpg: a laughing face.
inline constexpr PixelRect kSmilingFaceSample3{1038, 257, 282, 272};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_MODEL_FACE_TEST_IMAGES_H_
