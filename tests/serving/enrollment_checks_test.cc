#include "lib/serving/enrollment_checks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace fer {
namespace {

constexpr int kNeutral = 1;

// 68 landmarks of a frontal face: eyes level at y=100, 40 px apart, nose tip
// below their midpoint; then rotated by `roll` degrees about the midpoint and
// the nose shifted by `nose_dx` pixels.
std::vector<Point> FrontalLandmarks(float roll_degrees = 0, float nose_dx = 0) {
  std::vector<Point> points(68, Point{100, 120});
  for (int i = 36; i < 42; ++i) points[i] = Point{80, 100};
  for (int i = 42; i < 48; ++i) points[i] = Point{120, 100};
  points[30] = Point{100 + nose_dx, 125};
  const double a = roll_degrees * 3.14159265358979323846 / 180.0;
  for (Point& p : points) {
    const double x = p.x - 100, y = p.y - 100;
    p = Point{static_cast<float>(100 + x * std::cos(a) - y * std::sin(a)),
              static_cast<float>(100 + x * std::sin(a) + y * std::cos(a))};
  }
  return points;
}

// A sharp image: random noise.
RgbImage Noise(int width, int height) {
  RgbImage image{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  std::mt19937 rng(7);
  for (uint8_t& v : image.pixels) v = static_cast<uint8_t>(rng() & 0xff);
  return image;
}

RgbImage Flat(int width, int height) {
  return RgbImage{width, height, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3, 90)};
}

FaceAnalysis Face(float box_height = 120, float neutral = 0.9f) {
  FaceAnalysis face;
  face.detection.box = Box{40, 40, box_height, box_height};
  face.detection.score = 0.9f;
  face.landmarks = FrontalLandmarks();
  face.probabilities = {0.1f, neutral, 0.0f};
  face.features = std::vector<float>(256, 0.5f);
  return face;
}

TEST(EnrollmentChecksTest, AcceptsOneLargeSharpFrontalNeutralFace) {
  const EnrollmentCheck check =
      CheckEnrollmentFrame({Face()}, Noise(240, 240), kNeutral, EnrollmentCheckOptions());
  EXPECT_EQ(check.verdict, EnrollmentVerdict::kAccepted) << check.detail;
  EXPECT_TRUE(check.detail.empty()) << check.detail;
  ASSERT_TRUE(check.neutral_probability.has_value());
  EXPECT_FLOAT_EQ(*check.neutral_probability, 0.9f);
}

TEST(EnrollmentChecksTest, RejectsNoFaceAndSeveralFaces) {
  const EnrollmentCheckOptions options;
  EXPECT_EQ(CheckEnrollmentFrame({}, Noise(240, 240), kNeutral, options).verdict,
            EnrollmentVerdict::kNoFace);
  const EnrollmentCheck two =
      CheckEnrollmentFrame({Face(), Face()}, Noise(240, 240), kNeutral, options);
  EXPECT_EQ(two.verdict, EnrollmentVerdict::kMultipleFaces);
  EXPECT_FALSE(two.neutral_probability.has_value());
}

TEST(EnrollmentChecksTest, RejectsASmallFaceAndSaysHowSmall) {
  EnrollmentCheckOptions options;
  options.min_face_px = 64;
  const EnrollmentCheck check =
      CheckEnrollmentFrame({Face(38)}, Noise(240, 240), kNeutral, options);
  EXPECT_EQ(check.verdict, EnrollmentVerdict::kFaceTooSmall);
  EXPECT_EQ(check.detail, "face 38 px high, minimum 64 px");
  EXPECT_EQ(CheckEnrollmentFrame({Face(64)}, Noise(240, 240), kNeutral, options).verdict,
            EnrollmentVerdict::kAccepted);
}

TEST(EnrollmentChecksTest, RejectsABlurryFace) {
  const EnrollmentCheck check =
      CheckEnrollmentFrame({Face()}, Flat(240, 240), kNeutral, EnrollmentCheckOptions());
  EXPECT_EQ(check.verdict, EnrollmentVerdict::kTooBlurry);
  EXPECT_NE(check.detail.find("Laplacian"), std::string::npos) << check.detail;
}

TEST(EnrollmentChecksTest, LaplacianVarianceIsZeroOnFlatAndLargeOnNoise) {
  EXPECT_DOUBLE_EQ(LaplacianVariance(Flat(100, 100), Box{10, 10, 50, 50}), 0.0);
  EXPECT_GT(LaplacianVariance(Noise(100, 100), Box{10, 10, 50, 50}), 1000.0);
  // Boxes reaching outside the image are clipped; empty crops give 0.
  EXPECT_GT(LaplacianVariance(Noise(100, 100), Box{-20, -20, 80, 80}), 1000.0);
  EXPECT_DOUBLE_EQ(LaplacianVariance(Noise(100, 100), Box{200, 200, 50, 50}), 0.0);
}

TEST(EnrollmentChecksTest, HeadPoseFromLandmarks) {
  std::optional<HeadPose> frontal = EstimateHeadPose(FrontalLandmarks());
  ASSERT_TRUE(frontal.has_value());
  EXPECT_NEAR(frontal->yaw, 0.0, 1e-6);
  EXPECT_NEAR(frontal->roll_degrees, 0.0, 1e-6);

  std::optional<HeadPose> turned = EstimateHeadPose(FrontalLandmarks(0, 20));
  ASSERT_TRUE(turned.has_value());
  EXPECT_NEAR(turned->yaw, 0.5, 1e-5);

  std::optional<HeadPose> tilted = EstimateHeadPose(FrontalLandmarks(30));
  ASSERT_TRUE(tilted.has_value());
  EXPECT_NEAR(tilted->roll_degrees, 30.0, 1e-3);
  EXPECT_NEAR(tilted->yaw, 0.0, 1e-5);

  EXPECT_FALSE(EstimateHeadPose(std::vector<Point>(5)).has_value());
  EXPECT_FALSE(EstimateHeadPose(std::vector<Point>(68)).has_value());
}

TEST(EnrollmentChecksTest, RejectsATurnedOrTiltedHead) {
  const EnrollmentCheckOptions options;  // yaw 0.35, roll 20 degrees
  FaceAnalysis turned = Face();
  turned.landmarks = FrontalLandmarks(0, -20);
  EnrollmentCheck check = CheckEnrollmentFrame({turned}, Noise(240, 240), kNeutral, options);
  EXPECT_EQ(check.verdict, EnrollmentVerdict::kHeadPoseTooLarge);
  EXPECT_NE(check.detail.find("yaw"), std::string::npos) << check.detail;

  FaceAnalysis tilted = Face();
  tilted.landmarks = FrontalLandmarks(-25);
  check = CheckEnrollmentFrame({tilted}, Noise(240, 240), kNeutral, options);
  EXPECT_EQ(check.verdict, EnrollmentVerdict::kHeadPoseTooLarge);
  EXPECT_NE(check.detail.find("roll"), std::string::npos) << check.detail;

  FaceAnalysis slight = Face();
  slight.landmarks = FrontalLandmarks(10, 8);
  EXPECT_EQ(CheckEnrollmentFrame({slight}, Noise(240, 240), kNeutral, options).verdict,
            EnrollmentVerdict::kAccepted);
}

TEST(EnrollmentChecksTest, ANonNeutralFaceIsAcceptedWithAWarning) {
  const EnrollmentCheck check =
      CheckEnrollmentFrame({Face(120, 0.2f)}, Noise(240, 240), kNeutral, EnrollmentCheckOptions());
  EXPECT_EQ(check.verdict, EnrollmentVerdict::kAccepted);
  EXPECT_TRUE(check.accepted());
  EXPECT_NE(check.detail.find("not neutral"), std::string::npos) << check.detail;
  EXPECT_FLOAT_EQ(*check.neutral_probability, 0.2f);
}

TEST(EnrollmentChecksTest, NeutralLabelIndexFindsTheNeutralLabel) {
  EXPECT_EQ(NeutralLabelIndex({"happy", "neutral", "sad"}), 1);
  EXPECT_EQ(NeutralLabelIndex({"calm", "happiness"}), -1);
  EXPECT_EQ(NeutralLabelIndex({}), -1);
}

TEST(EnrollmentChecksTest, AMinimumNeutralProbabilityRejectsBelowItAndWarnsAbove) {
  EnrollmentCheckOptions options;
  options.min_neutral_probability = 0.3f;
  const EnrollmentCheck smiling =
      CheckEnrollmentFrame({Face(120, 0.2f)}, Noise(240, 240), kNeutral, options);
  EXPECT_EQ(smiling.verdict, EnrollmentVerdict::kNotNeutral);
  EXPECT_FALSE(smiling.accepted());
  EXPECT_EQ(smiling.detail,
            "the generic model finds this frame not neutral: neutral probability 0.20, "
            "minimum 0.30");
  EXPECT_FLOAT_EQ(*smiling.neutral_probability, 0.2f);

  // Between the minimum and the warning threshold: kept, with the warning.
  const EnrollmentCheck unsure =
      CheckEnrollmentFrame({Face(120, 0.4f)}, Noise(240, 240), kNeutral, options);
  EXPECT_TRUE(unsure.accepted());
  EXPECT_NE(unsure.detail.find("warning:"), std::string::npos) << unsure.detail;

  // Without a neutral label there is no probability to judge by.
  EXPECT_TRUE(CheckEnrollmentFrame({Face(120, 0.2f)}, Noise(240, 240), -1, options).accepted());
  // A frame that fails an earlier check is rejected for that reason.
  EXPECT_EQ(CheckEnrollmentFrame({Face(30, 0.2f)}, Noise(240, 240), kNeutral, options).verdict,
            EnrollmentVerdict::kFaceTooSmall);
}

}  // namespace
}  // namespace fer
