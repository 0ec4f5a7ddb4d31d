#ifndef FERSERVE_TESTS_E2E_METRIC_VALUE_H_
#define FERSERVE_TESTS_E2E_METRIC_VALUE_H_

#include <string>

namespace fer::testing {

// The value of the unlabelled sample `name` in a Prometheus text exposition
// (first match), or -1 when there is none.
inline double MetricValue(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(metrics.substr(at + name.size() + 2));
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_E2E_METRIC_VALUE_H_
