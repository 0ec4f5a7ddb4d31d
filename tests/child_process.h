#ifndef FERSERVE_TESTS_CHILD_PROCESS_H_
#define FERSERVE_TESTS_CHILD_PROCESS_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "tests/file_contents.h"
#include "tests/poll_until.h"
#include "tests/process_temp_dir.h"
#include "tests/spawn_process.h"

namespace fer::testing {

// A program started for one test (SpawnProcess: argv[0] a path or looked up
// on PATH, stdin /dev/null, output in files), killed with SIGKILL and
// reaped when destroyed unless it exited before.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, ProcessOutput output,
               std::vector<std::string> env = {})
      : output_(std::move(output)), pid_(SpawnProcess(std::move(argv), output_, std::move(env))) {}
  ~ChildProcess() { Kill(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Whether the program has not exited yet; reaps it when it has.
  bool running() {
    if (exited_) return false;
    if (pid_ <= 0 || waitpid(pid_, &wait_status_, WNOHANG) == pid_) exited_ = true;
    return !exited_;
  }

  // Polls `ready` every `interval` until it holds, the program exits, or
  // `timeout` passes; whether it held.
  bool WaitUntil(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                 std::chrono::milliseconds interval = std::chrono::milliseconds(100)) {
    bool held = false;
    PollUntil([&] { return !running() || (held = ready()); }, timeout, interval);
    return held;
  }

  // Waits up to `timeout` for the program to exit; its wait status, or -1
  // while it still runs.
  int WaitExit(std::chrono::milliseconds timeout) {
    return PollUntil([this] { return !running(); }, timeout, std::chrono::milliseconds(20))
               ? wait_status_
               : -1;
  }

  // Kills the program (SIGKILL) unless it has exited, and reaps it; its
  // wait status (-1 when it could not be started).
  int Kill() {
    if (running()) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &wait_status_, 0);
      exited_ = true;
    }
    return wait_status_;
  }

  // What the program wrote to stdout so far (with stderr when that goes to
  // the same file).
  std::string Log() const { return ReadFileContents(output_.stdout_path); }

 private:
  const ProcessOutput output_;
  const pid_t pid_;
  bool exited_ = false;
  int wait_status_ = -1;
};

// What a finished child process printed and how it ended.
struct ChildResult {
  int exit_code = -1;  // -1 when killed (signal or timeout)
  std::string out;
  std::string err;
};

// Runs `argv` to its end with stdout and stderr captured, killing it after
// `timeout`.
inline ChildResult RunChildProcess(std::vector<std::string> argv,
                                   std::chrono::seconds timeout = std::chrono::seconds(300)) {
  static int counter = 0;
  const std::string stem = ProcessTempDir() + "child_" + std::to_string(counter++);
  ChildResult result;
  {
    ChildProcess child(std::move(argv), {stem + ".out", stem + ".err"});
    child.WaitExit(timeout);
    const int status = child.Kill();  // the exit's status, or the kill's after the timeout
    if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  }
  result.out = ReadFileContents(stem + ".out");
  result.err = ReadFileContents(stem + ".err");
  std::remove((stem + ".out").c_str());
  std::remove((stem + ".err").c_str());
  return result;
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_CHILD_PROCESS_H_
