#ifndef FERSERVE_TESTS_MODEL_DETECTOR_TEST_FIXTURE_H_
#define FERSERVE_TESTS_MODEL_DETECTOR_TEST_FIXTURE_H_

#include <gtest/gtest.h>

#include <algorithm>
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

// How far right and down a detector's boxes may reach, give or take float
// rounding: right * (1 + relative_slack) + absolute_slack.
struct Reach {
  float right = 0;
  float bottom = 0;
  float relative_slack = 1e-6f;
  float absolute_slack = 0;
};
inline Reach Inside(const RgbImage& image) {
  return {static_cast<float>(image.width), static_cast<float>(image.height)};
}

// Scores above the threshold, best first, at most max_results, non-empty
// boxes from (0, 0) to within `reach`.
inline void ExpectSane(const std::vector<FaceDetection>& faces, const DetectOptions& options,
                       const Reach& reach) {
  EXPECT_LE(static_cast<int>(faces.size()), options.max_results);
  for (size_t i = 0; i < faces.size(); ++i) {
    const FaceDetection& f = faces[i];
    EXPECT_GT(f.score, options.min_score);
    EXPECT_LE(f.score, 1.0f);
    if (i > 0) EXPECT_GE(faces[i - 1].score, f.score) << "not sorted by score";
    EXPECT_GT(f.box.width, 0);
    EXPECT_GT(f.box.height, 0);
    EXPECT_GE(f.box.x, 0);
    EXPECT_GE(f.box.y, 0);
    EXPECT_LE(f.box.x + f.box.width,
              reach.right * (1 + reach.relative_slack) + reach.absolute_slack);
    EXPECT_LE(f.box.y + f.box.height,
              reach.bottom * (1 + reach.relative_slack) + reach.absolute_slack);
  }
}

// `faces` are face-api's `want`: as many, in the same order, boxes with
// IoU >= 0.999, scores within `score_tolerance`.
inline void ExpectFaceApiFaces(const std::vector<FaceDetection>& faces,
                               const std::vector<FaceDetection>& want, float score_tolerance) {
  ASSERT_EQ(faces.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_GE(IoU(faces[i].box, want[i].box), 0.999) << i;
    EXPECT_NEAR(faces[i].score, want[i].score, score_tolerance) << i;
  }
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

  // With at most `max_results` the detector answers the best of the faces
  // it finds in `image` without a limit.
  static void ExpectMaxResultsKeepTheBest(const RgbImage& image, int max_results) {
    const std::vector<FaceDetection> all = Detect(image, DetectOptions{});
    const std::vector<FaceDetection> best = Detect(image, {0.5f, max_results});
    ASSERT_EQ(best.size(), std::min(all.size(), static_cast<size_t>(max_results)));
    for (size_t i = 0; i < best.size(); ++i) {
      EXPECT_EQ(best[i].score, all[i].score) << i;
      EXPECT_EQ(best[i].box.x, all[i].box.x) << i;
    }
  }

  static inline FaceDetector* detector_ = nullptr;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_MODEL_DETECTOR_TEST_FIXTURE_H_
