#ifndef FERSERVE_LIB_METRICS_SAMPLE_QUANTILE_H_
#define FERSERVE_LIB_METRICS_SAMPLE_QUANTILE_H_

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace fer {

// The q-quantile (q in [0, 1], clamped) of measured samples, as the bench
// tools report them: interpolated linearly between the two nearest order
// statistics (NumPy's default, Hyndman and Fan's type 7), so q = 0 is the
// smallest sample, q = 1 the largest and q = 0.5 the median (the mean of the
// two middle samples of an even count). 0 when there are no samples.
inline double Quantile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(samples.size() - 1);
  const size_t below = static_cast<size_t>(rank);
  if (below + 1 >= samples.size()) return samples.back();
  const double fraction = rank - static_cast<double>(below);
  return samples[below] + fraction * (samples[below + 1] - samples[below]);
}

inline double Median(std::vector<double> samples) { return Quantile(std::move(samples), 0.5); }

}  // namespace fer

#endif  // FERSERVE_LIB_METRICS_SAMPLE_QUANTILE_H_
