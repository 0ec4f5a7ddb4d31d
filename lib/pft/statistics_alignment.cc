#include "lib/pft/statistics_alignment.h"

#include <torch/torch.h>

#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/model/status_macros.h"
#include "lib/pft/translator_tensors.h"

namespace fer::pft {
namespace {

torch::Tensor Shrunk(const FeatureStats& stats) {
  const int64_t d = stats.dim;
  const torch::Tensor cov = FeaturesTensor(stats.covariance, d, d).to(torch::kFloat64);
  const double a = static_cast<double>(d) / static_cast<double>(d + stats.count);
  const double mean_variance = cov.trace().item<double>() / static_cast<double>(d);
  return (1 - a) * cov + a * std::max(mean_variance, 1e-12) * torch::eye(d, torch::kFloat64);
}

// Symmetric positive definite power: V diag(l^p) V^T.
torch::Tensor SymmetricPower(const torch::Tensor& a, double power) {
  torch::Tensor values, vectors;
  std::tie(values, vectors) = torch::linalg_eigh(a, "L");
  values = values.clamp_min(1e-12).pow(power);
  return vectors.matmul(torch::diag(values)).matmul(vectors.t());
}

}  // namespace

absl::StatusOr<StatisticsAlignment> StatisticsAlignment::Fit(const FeatureStats& user_neutral,
                                                             const FeatureStats& source_neutral) {
  FER_RETURN_IF_ERROR(user_neutral.Validate());
  FER_RETURN_IF_ERROR(source_neutral.Validate());
  if (user_neutral.dim != source_neutral.dim) {
    return absl::InvalidArgumentError(absl::StrCat("statistics of dims ", user_neutral.dim, " and ",
                                                   source_neutral.dim, " differ"));
  }
  const int64_t d = user_neutral.dim;
  torch::NoGradGuard no_grad;
  const torch::Tensor m = SymmetricPower(Shrunk(source_neutral), 0.5)
                              .matmul(SymmetricPower(Shrunk(user_neutral), -0.5));
  const torch::Tensor mu_u = FeaturesTensor(user_neutral.mean, 1, d).to(torch::kFloat64)[0];
  const torch::Tensor mu_s = FeaturesTensor(source_neutral.mean, 1, d).to(torch::kFloat64)[0];
  const torch::Tensor offset = mu_s - m.matmul(mu_u);
  StatisticsAlignment alignment;
  alignment.dim_ = static_cast<int>(d);
  const torch::Tensor m32 = m.to(torch::kFloat32).contiguous();
  const torch::Tensor o32 = offset.to(torch::kFloat32).contiguous();
  alignment.matrix_.assign(m32.data_ptr<float>(), m32.data_ptr<float>() + d * d);
  alignment.offset_.assign(o32.data_ptr<float>(), o32.data_ptr<float>() + d);
  return alignment;
}

absl::StatusOr<std::vector<float>> StatisticsAlignment::Apply(const std::vector<float>& features,
                                                              int count) const {
  if (count < 0 || features.size() != static_cast<size_t>(count) * dim_) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", count, " x ", dim_,
                                                   " features, got ", features.size(), " values"));
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor x = FeaturesTensor(features, count, dim_);
  const torch::Tensor m = FeaturesTensor(matrix_, dim_, dim_);
  const torch::Tensor o = FeaturesTensor(offset_, 1, dim_);
  const torch::Tensor y = torch::addmm(o, x, m.t()).contiguous();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

}  // namespace fer::pft
