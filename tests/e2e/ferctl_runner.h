#ifndef FERSERVE_TESTS_E2E_FERCTL_RUNNER_H_
#define FERSERVE_TESTS_E2E_FERCTL_RUNNER_H_

// Runs the built ferctl binary for end-to-end tests, and reads its output.

#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "tests/child_process.h"

namespace fer::testing {

// Exit statuses documented by `ferctl --help`.
inline constexpr int kFerctlUsage = 2;
inline constexpr int kFerctlInputError = 3;
inline constexpr int kFerctlUnreachable = 4;
inline constexpr int kFerctlDeadlineExceeded = 5;
inline constexpr int kFerctlNotFound = 6;
inline constexpr int kFerctlRejected = 7;
inline constexpr int kFerctlUnauthenticated = 8;

// ferctl with exactly these arguments.
inline ChildResult RunFerctl(std::vector<std::string> args) {
  args.insert(args.begin(), std::string(FERSERVE_BINARY_DIR) + "/client/ferctl/ferctl");
  return RunChildProcess(std::move(args));
}

// ferctl against a ferserve on loopback port `port`.
inline ChildResult RunFerctlOn(int port, std::vector<std::string> args) {
  args.insert(args.begin(), "--address=127.0.0.1:" + std::to_string(port));
  return RunFerctl(std::move(args));
}

inline int CountLinesMatching(const std::string& text, const std::regex& pattern) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (std::regex_search(std::string(line), pattern)) ++n;
  }
  return n;
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_E2E_FERCTL_RUNNER_H_
