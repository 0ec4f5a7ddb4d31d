#ifndef FERSERVE_LIB_PFT_STATISTICS_ALIGNMENT_H_
#define FERSERVE_LIB_PFT_STATISTICS_ALIGNMENT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "lib/pft/feature_stats.h"

namespace fer::pft {

// The feature-statistics alignment baseline (CORAL-like, no training): the
// affine map that whitens a user's neutral features and re-colours them with
// the source neutral statistics,
//
//   x' = mu_s + C_s^{1/2} C_u^{-1/2} (x - mu_u).
//
// Both covariances are shrunk towards their mean variance before the square
// roots, C <- (1 - a) C + a (tr C / D) I with a = D / (D + n) for n vectors:
// a user's few neutral frames give a rank-deficient covariance in 256
// dimensions.
class StatisticsAlignment {
 public:
  static absl::StatusOr<StatisticsAlignment> Fit(const FeatureStats& user_neutral,
                                                 const FeatureStats& source_neutral);

  // Maps `count` features (count x dim).
  absl::StatusOr<std::vector<float>> Apply(const std::vector<float>& features, int count) const;

 private:
  int dim_ = 0;
  std::vector<float> matrix_;  // [dim, dim], row-major: C_s^{1/2} C_u^{-1/2}
  std::vector<float> offset_;  // mu_s - matrix · mu_u
};

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_STATISTICS_ALIGNMENT_H_
