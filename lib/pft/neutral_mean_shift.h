#ifndef FERSERVE_LIB_PFT_NEUTRAL_MEAN_SHIFT_H_
#define FERSERVE_LIB_PFT_NEUTRAL_MEAN_SHIFT_H_

#include <vector>

#include "absl/status/statusor.h"

namespace fer::pft {

// The neutral-mean subtraction baseline: x - mean(user's neutral features) +
// mean(source neutral features), for `count` features of `dim` values. Exact
// for a pure per-subject offset, blind to anything else.
absl::StatusOr<std::vector<float>> NeutralMeanShift(const std::vector<float>& features, int count,
                                                    const std::vector<float>& user_neutral_mean,
                                                    const std::vector<float>& source_neutral_mean);

// Mean of `count` vectors of `dim` values (count >= 1).
absl::StatusOr<std::vector<float>> MeanFeature(const std::vector<float>& features, int count,
                                               int dim);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_NEUTRAL_MEAN_SHIFT_H_
