#include "lib/pft/neutral_mean_shift.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fer::pft {

absl::StatusOr<std::vector<float>> NeutralMeanShift(const std::vector<float>& features, int count,
                                                    const std::vector<float>& user_neutral_mean,
                                                    const std::vector<float>& source_neutral_mean) {
  const size_t dim = user_neutral_mean.size();
  if (dim == 0 || source_neutral_mean.size() != dim || count < 0 ||
      features.size() != static_cast<size_t>(count) * dim) {
    return absl::InvalidArgumentError(absl::StrCat("neutral-mean shift: ", count, " features in ",
                                                   features.size(), " floats, means of ", dim,
                                                   " and ", source_neutral_mean.size()));
  }
  std::vector<float> out(features.size());
  for (size_t i = 0; i < features.size(); ++i) {
    const size_t d = i % dim;
    out[i] = features[i] - user_neutral_mean[d] + source_neutral_mean[d];
  }
  return out;
}

absl::StatusOr<std::vector<float>> MeanFeature(const std::vector<float>& features, int count,
                                               int dim) {
  if (count < 1 || dim < 1 || features.size() != static_cast<size_t>(count) * dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("mean of ", count, " x ", dim, " features: got ", features.size(), " floats"));
  }
  std::vector<double> sum(dim, 0.0);
  for (size_t i = 0; i < features.size(); ++i) sum[i % dim] += features[i];
  std::vector<float> mean(dim);
  for (int d = 0; d < dim; ++d) mean[d] = static_cast<float>(sum[d] / count);
  return mean;
}

}  // namespace fer::pft
