#include "lib/pft/feature_stats.h"

#include <gtest/gtest.h>

namespace fer::pft {
namespace {

TEST(FeatureStatsTest, MeanAndUnbiasedCovarianceOfKnownVectors) {
  // Three 2-d vectors: (1, 2), (3, 2), (5, 8).
  auto stats = ComputeFeatureStats({1, 2, 3, 2, 5, 8}, 3, 2);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->dim, 2);
  EXPECT_EQ(stats->count, 3);
  EXPECT_FLOAT_EQ(stats->mean[0], 3);
  EXPECT_FLOAT_EQ(stats->mean[1], 4);
  // Deviations x: -2, 0, 2; y: -2, -2, 4. Divided by n - 1 = 2.
  EXPECT_FLOAT_EQ(stats->covariance[0], 4);  // var x = 8 / 2
  EXPECT_FLOAT_EQ(stats->covariance[1], 6);  // cov xy = (4 + 0 + 8) / 2
  EXPECT_FLOAT_EQ(stats->covariance[2], 6);
  EXPECT_FLOAT_EQ(stats->covariance[3], 12);  // var y = 24 / 2
  EXPECT_TRUE(stats->Validate().ok());
}

TEST(FeatureStatsTest, RejectsTooFewOrMisSizedInputs) {
  EXPECT_FALSE(ComputeFeatureStats({1, 2}, 1, 2).ok());
  EXPECT_FALSE(ComputeFeatureStats({1, 2, 3}, 2, 2).ok());
  EXPECT_FALSE(ComputeFeatureStats({}, 2, 0).ok());
  FeatureStats broken;
  broken.dim = 2;
  broken.mean = {0, 0};
  broken.covariance = {1, 0, 0};
  EXPECT_EQ(broken.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fer::pft
