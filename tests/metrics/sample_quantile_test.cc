#include "lib/metrics/sample_quantile.h"

#include <gtest/gtest.h>

#include <vector>

namespace fer {
namespace {

TEST(SampleQuantileTest, NoSamplesIsZero) {
  EXPECT_EQ(Quantile({}, 0.5), 0);
  EXPECT_EQ(Median({}), 0);
}

TEST(SampleQuantileTest, OneSampleIsEveryQuantile) {
  for (double q : {0.0, 0.5, 0.99, 1.0}) EXPECT_EQ(Quantile({7}, q), 7) << q;
}

TEST(SampleQuantileTest, MedianOfOddAndEvenCounts) {
  EXPECT_EQ(Median({5, 1, 3}), 3);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);  // the mean of the middle two
}

TEST(SampleQuantileTest, InterpolatesBetweenTheNearestSamples) {
  std::vector<double> hundred;
  for (int i = 100; i >= 1; --i) hundred.push_back(i);  // unsorted: 100 .. 1
  EXPECT_EQ(Quantile(hundred, 0), 1);
  EXPECT_EQ(Quantile(hundred, 1), 100);
  EXPECT_DOUBLE_EQ(Quantile(hundred, 0.5), 50.5);
  EXPECT_DOUBLE_EQ(Quantile(hundred, 0.99), 99.01);
  EXPECT_DOUBLE_EQ(Quantile({10, 20}, 0.25), 12.5);
}

TEST(SampleQuantileTest, OutOfRangeLevelsAreClamped) {
  EXPECT_EQ(Quantile({3, 1, 2}, -1), 1);
  EXPECT_EQ(Quantile({3, 1, 2}, 2), 3);
}

TEST(SampleQuantileTest, LeavesTheCallersSamplesAsTheyWere) {
  const std::vector<double> samples = {3, 1, 2};
  EXPECT_EQ(Median(samples), 2);
  EXPECT_EQ(samples, (std::vector<double>{3, 1, 2}));
}

}  // namespace
}  // namespace fer
