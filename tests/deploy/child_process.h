#ifndef FERSERVE_TESTS_DEPLOY_CHILD_PROCESS_H_
#define FERSERVE_TESTS_DEPLOY_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "tests/file_contents.h"
#include "tests/poll_until.h"
#include "tests/spawn_process.h"

namespace fer::testing {

// A program started for one test (looked up on PATH), its stdout and stderr
// in `log_path`, killed with SIGKILL and reaped when destroyed.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::string log_path)
      : log_path_(std::move(log_path)) {
    pid_ = SpawnProcess(std::move(argv), {log_path_});
  }
  ~ChildProcess() {
    if (running()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool running() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) pid_ = -1;
    return pid_ > 0;
  }

  // Polls `ready` every 100 ms until it holds, the process exits, or
  // `timeout` passes; whether it held.
  bool WaitUntil(const std::function<bool()>& ready, std::chrono::seconds timeout) {
    bool held = false;
    PollUntil([&] { return !running() || (held = ready()); }, timeout,
              std::chrono::milliseconds(100));
    return held;
  }

  // The program's output so far.
  std::string Log() const { return ReadFileContents(log_path_); }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_DEPLOY_CHILD_PROCESS_H_
