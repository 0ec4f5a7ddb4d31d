#include "lib/pft/neutral_mean_shift.h"

#include <gtest/gtest.h>

namespace fer::pft {
namespace {

TEST(NeutralMeanShiftTest, MovesTheUserNeutralMeanOntoTheSourceOne) {
  const std::vector<float> features = {1, 1, 3, 5};  // two 2-d features
  auto shifted = NeutralMeanShift(features, 2, /*user=*/{2, 3}, /*source=*/{0, 10});
  ASSERT_TRUE(shifted.ok()) << shifted.status();
  EXPECT_EQ(*shifted, (std::vector<float>{-1, 8, 1, 12}));
  // The user's own neutral mean lands exactly on the source's.
  auto mean = MeanFeature(*shifted, 2, 2);
  ASSERT_TRUE(mean.ok());
  EXPECT_EQ(*mean, (std::vector<float>{0, 10}));
}

TEST(NeutralMeanShiftTest, MeanFeatureAndSizeErrors) {
  auto mean = MeanFeature({1, 2, 3, 4, 5, 6}, 3, 2);
  ASSERT_TRUE(mean.ok());
  EXPECT_EQ(*mean, (std::vector<float>{3, 4}));
  EXPECT_FALSE(MeanFeature({1, 2, 3}, 2, 2).ok());
  EXPECT_FALSE(MeanFeature({}, 0, 2).ok());
  EXPECT_FALSE(NeutralMeanShift({1, 2, 3}, 2, {0, 0}, {0, 0}).ok());
  EXPECT_FALSE(NeutralMeanShift({1, 2}, 1, {0, 0}, {0}).ok());
  EXPECT_FALSE(NeutralMeanShift({1, 2}, 1, {}, {}).ok());
}

}  // namespace
}  // namespace fer::pft
