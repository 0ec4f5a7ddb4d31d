#include "lib/model/linear_softmax.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

namespace fer {
namespace {

std::vector<float> Values(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// Against LibTorch's linear and softmax in double precision: its float32
// product sums in an order that depends on the CPU's BLAS kernels (2.6e-6
// from the exact probabilities measured on an AMD EPYC host, where ours are
// within 2e-7).
TEST(LinearSoftmaxTest, MatchesLinearAndSoftmaxInDoublePrecision) {
  torch::manual_seed(7);
  const int classes = 7, dim = 256, batch = 33;
  const torch::Tensor w = torch::randn({classes, dim}) * 0.2;
  const torch::Tensor b = torch::randn({classes});
  const torch::Tensor x = torch::rand({batch, dim}) * 4;
  const std::vector<float> expected = Values(
      torch::softmax(
          torch::addmm(b.to(torch::kDouble), x.to(torch::kDouble), w.to(torch::kDouble).t()), 1)
          .to(torch::kFloat));
  const std::vector<float> weight = Values(w), bias = Values(b), features = Values(x);
  std::vector<float> got(batch * classes, -1);
  LinearSoftmax(weight.data(), bias.data(), classes, dim, features.data(), batch, got.data());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-6) << i;
  for (int row = 0; row < batch; ++row) {
    float sum = 0;
    for (int c = 0; c < classes; ++c) sum += got[row * classes + c];
    EXPECT_NEAR(sum, 1.0f, 1e-6) << row;
  }
}

TEST(LinearSoftmaxTest, LargeLogitsStayFinite) {
  // Logits 1000, 900 and 1000 overflow exp() unless the largest is
  // subtracted first.
  const std::vector<float> weight = {1, 0, 0, 1, 0.5f, 0.5f};
  const std::vector<float> bias = {0, -100, 0};
  const std::vector<float> features = {1000, 1000};
  std::vector<float> got(3);
  LinearSoftmax(weight.data(), bias.data(), 3, 2, features.data(), 1, got.data());
  EXPECT_NEAR(got[0], 0.5f, 1e-6);
  EXPECT_NEAR(got[1], 0, 1e-6);
  EXPECT_NEAR(got[2], 0.5f, 1e-6);
}

TEST(LinearSoftmaxTest, EmptyBatchWritesNothing) {
  const std::vector<float> weight = {1, 2}, bias = {0, 0};
  float untouched = -1;
  LinearSoftmax(weight.data(), bias.data(), 2, 1, nullptr, 0, &untouched);
  EXPECT_EQ(untouched, -1);
}

TEST(LinearSoftmaxTest, HeadOverloadChecksSizesAndAgrees) {
  const LinearLayerWeights head{3, 2, {1, 0, 0, 1, 0.5f, 0.5f}, {0.1f, -0.2f, 0.3f}};
  const std::vector<float> features = {1, 2, -3, 0.5f};
  std::vector<float> expected(6);
  LinearSoftmax(head.weight.data(), head.bias.data(), 3, 2, features.data(), 2, expected.data());
  const absl::StatusOr<std::vector<float>> got = LinearSoftmax(head, features, 2);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, expected);

  const absl::StatusOr<std::vector<float>> empty = LinearSoftmax(head, {}, 0);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());

  EXPECT_EQ(LinearSoftmax(head, features, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LinearSoftmax(head, {1, 2, 3}, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LinearSoftmax(head, features, -2).status().code(), absl::StatusCode::kInvalidArgument);
  LinearLayerWeights short_bias = head;
  short_bias.bias.pop_back();
  EXPECT_EQ(LinearSoftmax(short_bias, features, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  LinearLayerWeights no_classes;
  EXPECT_EQ(LinearSoftmax(no_classes, {}, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fer
