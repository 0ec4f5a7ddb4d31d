#ifndef FERSERVE_TESTS_E2E_CHILD_PROCESS_H_
#define FERSERVE_TESTS_E2E_CHILD_PROCESS_H_

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/file_contents.h"
#include "tests/poll_until.h"
#include "tests/process_temp_dir.h"
#include "tests/spawn_process.h"

namespace fer::testing {

// What a finished child process printed and how it ended.
struct ChildResult {
  int exit_code = -1;  // -1 when killed (signal or timeout)
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is a path) with stdin closed, stdout and stderr
// captured, and kills it after `timeout`.
inline ChildResult RunChildProcess(std::vector<std::string> argv,
                                   std::chrono::seconds timeout = std::chrono::seconds(300)) {
  static int counter = 0;
  const std::string stem = ProcessTempDir() + "child_" + std::to_string(counter++);
  const std::string out_path = stem + ".out";
  const std::string err_path = stem + ".err";
  const pid_t pid = SpawnProcess(std::move(argv), {out_path, err_path});
  ChildResult result;
  int status = 0;
  if (!PollUntil([&] { return waitpid(pid, &status, WNOHANG) != 0; }, timeout)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.out = ReadFileContents(out_path);
  result.err = ReadFileContents(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return result;
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_E2E_CHILD_PROCESS_H_
