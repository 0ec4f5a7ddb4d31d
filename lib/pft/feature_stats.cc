#include "lib/pft/feature_stats.h"

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/pft/pft_losses.h"
#include "lib/pft/translator_tensors.h"

namespace fer::pft {

absl::Status FeatureStats::Validate() const {
  if (dim <= 0 || mean.size() != static_cast<size_t>(dim) ||
      covariance.size() != static_cast<size_t>(dim) * dim) {
    return absl::InvalidArgumentError(absl::StrCat("feature statistics do not match dim ", dim,
                                                   ": mean ", mean.size(), ", covariance ",
                                                   covariance.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<FeatureStats> ComputeFeatureStats(const std::vector<float>& features, int batch,
                                                 int dim) {
  if (dim <= 0 || batch < 2 || features.size() != static_cast<size_t>(batch) * dim) {
    return absl::InvalidArgumentError(absl::StrCat("feature statistics need 2+ vectors of dim ",
                                                   dim, ", got ", batch, " vectors in ",
                                                   features.size(), " floats"));
  }
  c10::InferenceMode inference;
  const torch::Tensor x = FeaturesTensor(features, batch, dim).to(torch::kFloat64);
  const torch::Tensor mean = x.mean(0);
  const torch::Tensor cov = Covariance(x).to(torch::kFloat32).contiguous();
  const torch::Tensor mean32 = mean.to(torch::kFloat32).contiguous();
  FeatureStats stats;
  stats.dim = dim;
  stats.count = batch;
  stats.mean.assign(mean32.data_ptr<float>(), mean32.data_ptr<float>() + dim);
  stats.covariance.assign(cov.data_ptr<float>(), cov.data_ptr<float>() + cov.numel());
  return stats;
}

}  // namespace fer::pft
