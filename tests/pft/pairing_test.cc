#include "lib/pft/pairing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lib/pft/synthetic_subjects.h"

namespace fer::pft {
namespace {

// Subject whose every frame is `shape` under a similarity transform.
SourceSubject ShapeSubject(const std::vector<float>& shape, double scale, double angle, double tx,
                           const std::vector<float>& pose, std::vector<float> feature) {
  SourceSubject s;
  s.count = 2;
  for (int f = 0; f < 2; ++f) {
    for (int k = 0; k < kNumLandmarks; ++k) {
      const double x = shape[2 * k], y = shape[2 * k + 1];
      s.landmarks.push_back(
          static_cast<float>(tx + f + scale * (std::cos(angle) * x - std::sin(angle) * y)));
      s.landmarks.push_back(
          static_cast<float>(scale * (std::sin(angle) * x + std::cos(angle) * y)));
    }
    s.pose.insert(s.pose.end(), pose.begin(), pose.end());
    s.features.insert(s.features.end(), feature.begin(), feature.end());
    s.labels.push_back(0);
  }
  return s;
}

std::vector<float> Shape(int variant) {
  std::vector<float> shape(2 * kNumLandmarks);
  for (int k = 0; k < kNumLandmarks; ++k) {
    shape[2 * k] = static_cast<float>(std::cos(0.37 * k + variant * 0.9 * (k % 5 == 0)));
    shape[2 * k + 1] = static_cast<float>(std::sin(0.61 * k) + 0.3 * variant * (k % 7 == 0));
  }
  return shape;
}

TEST(PairingTest, ProcrustesIgnoresSimilarityTransforms) {
  const SourceSubject a = ShapeSubject(Shape(0), 1.0, 0.0, 0.0, {0, 0, 0}, {1});
  const SourceSubject b = ShapeSubject(Shape(0), 150.0, 0.3, 200.0, {0, 0, 0}, {1});
  const auto ma = *MeanNormalizedShape(a.landmarks, a.count);
  const auto mb = *MeanNormalizedShape(b.landmarks, b.count);
  EXPECT_NEAR(ProcrustesDistance(ma, mb), 0.0, 1e-3);
  const auto mc =
      *MeanNormalizedShape(ShapeSubject(Shape(2), 1.0, 0, 0, {0, 0, 0}, {1}).landmarks, 2);
  EXPECT_GT(ProcrustesDistance(ma, mc), 0.05);
}

TEST(PairingTest, LandmarkPairsSameShapeAndPose) {
  // 0 and 1: same shape, different placement; 2 and 3: another shape, where
  // pose breaks the tie between 2's twins.
  std::vector<SourceSubject> s = {
      ShapeSubject(Shape(0), 100, 0.1, 10, {0, 0, 0}, {1, 0}),
      ShapeSubject(Shape(0), 60, -0.2, 300, {0, 0, 0}, {0, 1}),
      ShapeSubject(Shape(3), 100, 0.0, 0, {0, 0, 0}, {1, 0}),
      ShapeSubject(Shape(3), 90, 0.2, 50, {30, 0, 0}, {1, 0}),
      ShapeSubject(Shape(3), 80, 0.1, 70, {2, 0, 0}, {1, 0}),
  };
  PairingOptions options;
  auto partner = PairSubjects(s, 2, options);
  ASSERT_TRUE(partner.ok()) << partner.status();
  EXPECT_EQ((*partner)[0], 1);
  EXPECT_EQ((*partner)[1], 0);
  EXPECT_EQ((*partner)[2], 4);
  EXPECT_EQ((*partner)[3], 4);
}

TEST(PairingTest, EmbeddingPairsMostSimilarMeanFeature) {
  std::vector<SourceSubject> s = {
      ShapeSubject(Shape(0), 1, 0, 0, {0, 0, 0}, {1, 0, 0}),
      ShapeSubject(Shape(0), 1, 0, 0, {0, 0, 0}, {0, 1, 0}),
      ShapeSubject(Shape(0), 1, 0, 0, {0, 0, 0}, {5, 0.5f, 0}),
      ShapeSubject(Shape(0), 1, 0, 0, {0, 0, 0}, {0.1f, 1, 0.2f}),
  };
  PairingOptions options;
  options.strategy = PairingStrategy::kEmbeddingCosine;
  auto partner = PairSubjects(s, 3, options);
  ASSERT_TRUE(partner.ok());
  EXPECT_EQ(*partner, (std::vector<int>{2, 3, 0, 1}));
}

TEST(PairingTest, RandomIsNeverSelfAndSeeded) {
  std::vector<SourceSubject> s(6, ShapeSubject(Shape(0), 1, 0, 0, {0, 0, 0}, {1}));
  PairingOptions options;
  options.strategy = PairingStrategy::kRandom;
  options.seed = 5;
  auto a = PairSubjects(s, 1, options);
  auto b = PairSubjects(s, 1, options);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, *b);
  for (int i = 0; i < 6; ++i) EXPECT_NE((*a)[i], i);
}

TEST(PairingTest, LandmarkPairingFollowsSyntheticStyle) {
  const SyntheticWorld world = *SyntheticWorld::Create({});
  std::vector<SourceSubject> s;
  s.push_back(world.MakeSubjectWithStyle(0, {1, 0, 0, 0}, 2).data);
  s.push_back(world.MakeSubjectWithStyle(1, {-1.5f, 1, 0, 0}, 2).data);
  s.push_back(world.MakeSubjectWithStyle(2, {1.1f, 0.1f, 0, 0}, 2).data);
  s.push_back(world.MakeSubjectWithStyle(3, {0, 0, -2, 1}, 2).data);
  auto partner = PairSubjects(s, world.config().dim, PairingOptions{});
  ASSERT_TRUE(partner.ok());
  EXPECT_EQ((*partner)[0], 2);
  EXPECT_EQ((*partner)[2], 0);
}

TEST(PairingTest, ErrorsAndNames) {
  EXPECT_FALSE(PairSubjects({}, 1, PairingOptions{}).ok());
  SourceSubject bare;
  bare.count = 1;
  bare.features = {1};
  bare.labels = {0};
  EXPECT_FALSE(PairSubjects({bare, bare}, 1, PairingOptions{}).ok());
  EXPECT_EQ(*ParsePairingStrategy("Landmark"), PairingStrategy::kLandmark);
  EXPECT_EQ(*ParsePairingStrategy("cosine"), PairingStrategy::kEmbeddingCosine);
  EXPECT_FALSE(ParsePairingStrategy("nearest").ok());
  EXPECT_EQ(PairingStrategyName(PairingStrategy::kRandom), "random");
}

}  // namespace
}  // namespace fer::pft
