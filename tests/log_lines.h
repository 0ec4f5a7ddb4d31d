#ifndef FERSERVE_TESTS_LOG_LINES_H_
#define FERSERVE_TESTS_LOG_LINES_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace fer::testing {

// The lines a component logs through a `std::function<void(absl::string_view)>`
// callback, from any thread.
class LogLines {
 public:
  std::function<void(absl::string_view)> sink() {
    return [this](absl::string_view line) {
      absl::MutexLock lock(&mu_);
      lines_.emplace_back(line);
    };
  }
  std::vector<std::string> lines() const {
    absl::MutexLock lock(&mu_);
    return lines_;
  }
  // How many lines hold `part`.
  int Count(absl::string_view part) const {
    int n = 0;
    for (const std::string& line : lines()) n += absl::StrContains(line, part) ? 1 : 0;
    return n;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_LOG_LINES_H_
