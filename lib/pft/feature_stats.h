#ifndef FERSERVE_LIB_PFT_FEATURE_STATS_H_
#define FERSERVE_LIB_PFT_FEATURE_STATS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace fer::pft {

// First and second moments of a set of D-dim feature vectors: what PFT aligns
// translated features to (a paired subject's style in pre-training, the
// source subjects' neutral features in adaptation).
struct FeatureStats {
  int dim = 0;
  int64_t count = 0;              // vectors the moments were computed from
  std::vector<float> mean;        // [dim]
  std::vector<float> covariance;  // [dim, dim], row-major, unbiased (n - 1)

  // OK when mean and covariance have the sizes dim asks for.
  absl::Status Validate() const;
};

// Moments of `batch` feature vectors (batch x dim, row-major); needs two or
// more vectors.
absl::StatusOr<FeatureStats> ComputeFeatureStats(const std::vector<float>& features, int batch,
                                                 int dim);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_FEATURE_STATS_H_
