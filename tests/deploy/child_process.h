#ifndef FERSERVE_TESTS_DEPLOY_CHILD_PROCESS_H_
#define FERSERVE_TESTS_DEPLOY_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/file_contents.h"

namespace fer::testing {

// A program started for one test (looked up on PATH), its stdout and stderr
// in `log_path`, killed with SIGKILL and reaped when destroyed.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::string log_path)
      : log_path_(std::move(log_path)) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = std::fopen(log_path_.c_str(), "w");
      if (log != nullptr) {
        dup2(fileno(log), STDOUT_FILENO);
        dup2(fileno(log), STDERR_FILENO);
      }
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
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
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until && running()) {
      if (ready()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // The program's output so far.
  std::string Log() const { return ReadFileContents(log_path_); }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_DEPLOY_CHILD_PROCESS_H_
