#include "lib/pft/statistics_alignment.h"

#include <gtest/gtest.h>

#include <random>

namespace fer::pft {
namespace {

std::vector<float> Gaussian(int n, int dim, float scale, float offset, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(n) * dim);
  for (size_t i = 0; i < x.size(); ++i) x[i] = offset + scale * normal(rng) * (1 + i % dim);
  return x;
}

TEST(StatisticsAlignmentTest, MapsUserMomentsOntoSourceMoments) {
  const int dim = 4, n = 2000;
  const std::vector<float> user = Gaussian(n, dim, 3.0f, 5.0f, 1);
  const std::vector<float> source = Gaussian(n, dim, 1.0f, -1.0f, 2);
  const FeatureStats user_stats = *ComputeFeatureStats(user, n, dim);
  const FeatureStats source_stats = *ComputeFeatureStats(source, n, dim);
  auto alignment = StatisticsAlignment::Fit(user_stats, source_stats);
  ASSERT_TRUE(alignment.ok()) << alignment.status();
  auto mapped = alignment->Apply(user, n);
  ASSERT_TRUE(mapped.ok());
  const FeatureStats mapped_stats = *ComputeFeatureStats(*mapped, n, dim);
  for (int d = 0; d < dim; ++d) {
    EXPECT_NEAR(mapped_stats.mean[d], source_stats.mean[d], 0.05);
    // Shrinkage with n >> dim changes the variances by ~dim / n.
    EXPECT_NEAR(mapped_stats.covariance[d * dim + d] / source_stats.covariance[d * dim + d], 1.0,
                0.05);
  }
  EXPECT_FALSE(alignment->Apply({1, 2, 3}, 1).ok());
  FeatureStats other = source_stats;
  other.dim = 2;
  EXPECT_FALSE(StatisticsAlignment::Fit(user_stats, other).ok());
}

}  // namespace
}  // namespace fer::pft
