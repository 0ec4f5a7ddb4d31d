#ifndef FERSERVE_LIB_SERVING_DISTINCT_PROBLEM_LOG_H_
#define FERSERVE_LIB_SERVING_DISTINCT_PROBLEM_LOG_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace fer {

// The failures of a task that runs at an interval (reading a file again),
// reported once per distinct problem rather than at every run: a problem is
// logged when it differs from the one logged last, or when a success came in
// between. Not thread-safe: for one task's own runs.
class DistinctProblemLog {
 public:
  using Log = std::function<void(absl::string_view line)>;

  explicit DistinctProblemLog(Log log) : log_(std::move(log)) {}

  // Logs `context` followed by `problem`, unless `problem` is the one
  // reported last.
  void Report(absl::string_view context, absl::string_view problem) {
    if (problem == last_) return;
    last_ = std::string(problem);
    if (log_) log_(absl::StrCat(context, last_));
  }

  // A run succeeded: the next problem is news, even if it is the last one.
  void Clear() { last_.clear(); }

 private:
  Log log_;
  std::string last_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_DISTINCT_PROBLEM_LOG_H_
