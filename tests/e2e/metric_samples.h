#ifndef FERSERVE_TESTS_E2E_METRIC_SAMPLES_H_
#define FERSERVE_TESTS_E2E_METRIC_SAMPLES_H_

#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/http_get.h"

namespace fer::testing {

// The samples of a Prometheus text exposition, keyed by series as exposed:
// the metric name and its labels, e.g.
// `ferserve_requests_total{code="OK",rpc="Predict"}`.
using MetricSamples = std::map<std::string, double>;

// Parses `exposition`: a /metrics HTTP response or its body alone.
inline MetricSamples ParseMetrics(const std::string& exposition) {
  MetricSamples samples;
  const size_t headers_end = exposition.find("\r\n\r\n");
  std::istringstream in(headers_end == std::string::npos ? exposition
                                                         : exposition.substr(headers_end + 4));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

// The samples ferserve exports on `metrics_port`; none when nothing answers
// there (a killed replica).
inline MetricSamples ScrapeMetrics(int metrics_port) {
  const std::string response = HttpGet(metrics_port, "/metrics");
  if (response.find("\r\n\r\n") == std::string::npos) return {};
  return ParseMetrics(response);
}

// The value of one series (name and labels as exposed), or -1 when there is
// none.
inline double MetricValue(const MetricSamples& samples, const std::string& series) {
  const auto found = samples.find(series);
  return found == samples.end() ? -1 : found->second;
}

// The sum of metric `name`'s series that carry every label in `labels`
// (each written as label="value").
inline double MetricSum(const MetricSamples& samples, const std::string& name,
                        const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (const auto& [series, value] : samples) {
    if (series.rfind(name, 0) != 0 || (series.size() > name.size() && series[name.size()] != '{')) {
      continue;
    }
    bool match = true;
    for (const std::string& label : labels)
      match = match && series.find(label) != std::string::npos;
    if (match) sum += value;
  }
  return sum;
}

// The count of histogram `name`'s observations in its narrowest bucket at
// or above `bound` (+Inf included), among the series whose labels before
// `le` are `labels` (e.g. stage="queue", or none); -1 when the histogram has
// no such bucket.
inline double HistogramCountAtMost(const MetricSamples& samples, const std::string& name,
                                   const std::string& labels, double bound) {
  const std::string prefix = name + "_bucket{" + (labels.empty() ? "" : labels + ",") + "le=\"";
  double narrowest = std::numeric_limits<double>::infinity(), count = -1;
  for (auto it = samples.lower_bound(prefix); it != samples.end(); ++it) {
    if (it->first.rfind(prefix, 0) != 0) break;
    const double le = std::stod(it->first.substr(prefix.size()));
    if (le >= bound && (count < 0 || le < narrowest)) {
      narrowest = le;
      count = it->second;
    }
  }
  return count;
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_E2E_METRIC_SAMPLES_H_
