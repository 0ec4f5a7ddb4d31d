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

// The same faces from `a` and `b` on `image` (say, one network on the fused
// kernels and on LibTorch's operators): as many, in the same order, boxes
// with IoU > 0.999, scores within 1e-5.
inline void ExpectSameFaces(FaceDetector& a, FaceDetector& b, const RgbImage& image) {
  const absl::StatusOr<std::vector<FaceDetection>> faces_a = a.Detect(image, {});
  const absl::StatusOr<std::vector<FaceDetection>> faces_b = b.Detect(image, {});
  ASSERT_TRUE(faces_a.ok() && faces_b.ok());
  ASSERT_EQ(faces_a->size(), faces_b->size());
  for (size_t i = 0; i < faces_a->size(); ++i) {
    EXPECT_GT(IoU((*faces_a)[i].box, (*faces_b)[i].box), 0.999) << i;
    EXPECT_NEAR((*faces_a)[i].score, (*faces_b)[i].score, 1e-5) << i;
  }
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
