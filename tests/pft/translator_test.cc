#include "lib/pft/translator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace fer::pft {
namespace {

std::vector<float> RandomFeatures(int batch, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(batch) * dim);
  for (float& v : x) v = normal(rng);
  return x;
}

TEST(TranslatorTest, IsIdentityAtInit) {
  auto translator = Translator::Create(/*dim=*/256, /*hidden=*/512, /*seed=*/7);
  ASSERT_TRUE(translator.ok()) << translator.status();
  const std::vector<float> x = RandomFeatures(5, 256, 1);
  auto y = translator->Forward(x, 5);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(*y, x);
}

TEST(TranslatorTest, DefaultParameterCountFor256Features) {
  auto translator = Translator::Create(256);
  ASSERT_TRUE(translator.ok());
  EXPECT_EQ(translator->hidden(), 512);
  EXPECT_EQ(translator->num_parameters(), 2 * 256 * 512 + 512 + 256);  // 262,912
  EXPECT_EQ(translator->macs_per_feature(), 2 * 256 * 512);
}

TEST(TranslatorTest, SameSeedSameWeights) {
  auto a = Translator::Create(16, 8, 3);
  auto b = Translator::Create(16, 8, 3);
  auto c = Translator::Create(16, 8, 4);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->w1(), b->w1());
  EXPECT_NE(a->w1(), c->w1());
  const float bound = 1.0f / std::sqrt(16.0f);
  for (float w : a->w1()) EXPECT_LE(std::abs(w), bound);
}

// A translator with non-zero second layer: known output on a small case.
TEST(TranslatorTest, ComputesResidualMlp) {
  // dim 2, hidden 2: W1 = I, b1 = (0, -1), W2 = [[1, 0], [0, 2]], b2 = (0.5, 0).
  auto t = Translator::FromWeights(2, 2, {1, 0, 0, 1}, {0, -1}, {1, 0, 0, 2}, {0.5f, 0});
  ASSERT_TRUE(t.ok()) << t.status();
  // x = (1, 3): hidden = relu(1, 2) = (1, 2); y = x + (1, 4) + (0.5, 0) = (2.5, 7).
  auto y = t->Forward({1, 3}, 1);
  ASSERT_TRUE(y.ok());
  EXPECT_FLOAT_EQ((*y)[0], 2.5f);
  EXPECT_FLOAT_EQ((*y)[1], 7.0f);
}

TEST(TranslatorTest, BatchEqualsSingles) {
  const int dim = 32;
  const int hidden = 64;
  std::vector<float> w2 = RandomFeatures(dim, hidden, 5);
  std::vector<float> b2 = RandomFeatures(1, dim, 6);
  auto base = Translator::Create(dim, hidden, 9);
  ASSERT_TRUE(base.ok());
  auto t = Translator::FromWeights(dim, hidden, base->w1(), base->b1(), w2, b2);
  ASSERT_TRUE(t.ok());
  const int batch = 6;
  const std::vector<float> x = RandomFeatures(batch, dim, 2);
  auto all = t->Forward(x, batch);
  ASSERT_TRUE(all.ok());
  for (int i = 0; i < batch; ++i) {
    std::vector<float> xi(x.begin() + i * dim, x.begin() + (i + 1) * dim);
    auto yi = t->Forward(xi, 1);
    ASSERT_TRUE(yi.ok());
    for (int d = 0; d < dim; ++d) EXPECT_NEAR((*yi)[d], (*all)[i * dim + d], 1e-5f);
  }
}

TEST(TranslatorTest, RejectsBadSizes) {
  EXPECT_FALSE(Translator::Create(0, 8).ok());
  EXPECT_FALSE(Translator::Create(8, -1).ok());
  EXPECT_FALSE(Translator::FromWeights(2, 2, {1, 0, 0}, {0, 0}, {0, 0, 0, 0}, {0, 0}).ok());
  auto t = Translator::Create(4, 4);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->Forward({1, 2, 3}, 1).ok());
  auto empty = t->Forward({}, 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace fer::pft
