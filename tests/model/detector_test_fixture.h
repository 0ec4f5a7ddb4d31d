#ifndef FERSERVE_TESTS_MODEL_DETECTOR_TEST_FIXTURE_H_
#define FERSERVE_TESTS_MODEL_DETECTOR_TEST_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "lib/model/face_detector.h"
#include "lib/vision/image.h"
#include "tests/model/face_test_images.h"
#include "tests/test_assets.h"

namespace fer::testing {

// An image of one colour.
inline RgbImage Uniform(int width, int height, uint8_t value) {
  return RgbImage{width, height,
                  std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, value)};
}

// A suite sharing one loaded detector (named by Tag::kName) and the decoded
// demo photos.
template <typename Tag>
class DetectorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto detector = LoadFaceDetector(Tag::kName, ModelDir(), ModelDevice{});
    ASSERT_TRUE(detector.ok()) << detector.status();
    detector_ = std::move(detector).value().release();
  }
  static void TearDownTestSuite() {
    delete detector_;
    detector_ = nullptr;
  }
  static const RgbImage& Photo(int i) {
    static auto* const photos = new std::vector<RgbImage>();
    if (photos->empty()) {
      for (int k = 1; k <= 6; ++k) photos->push_back(DemoImage(k));
    }
    return (*photos)[i - 1];
  }
  static std::vector<FaceDetection> Detect(const RgbImage& image, const DetectOptions& options) {
    absl::StatusOr<std::vector<FaceDetection>> faces = detector_->Detect(image, options);
    EXPECT_TRUE(faces.ok()) << faces.status();
    return faces.ok() ? *faces : std::vector<FaceDetection>{};
  }

  static inline FaceDetector* detector_ = nullptr;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_MODEL_DETECTOR_TEST_FIXTURE_H_
