#ifndef FERSERVE_TESTS_POLL_UNTIL_H_
#define FERSERVE_TESTS_POLL_UNTIL_H_

#include <chrono>
#include <functional>
#include <thread>

namespace fer::testing {

// Calls `condition` until it holds, every `interval`, for up to `timeout`;
// whether it held. For what a test waits on that happens beside it: a
// process's start-up, a reload, a log line written after the client had
// its answer. `condition` is called at least once, and once more after
// the timeout has passed, so a slow machine's last sleep is not lost.
inline bool PollUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                      std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(interval);
  }
  return true;
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_POLL_UNTIL_H_
