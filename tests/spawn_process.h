#ifndef FERSERVE_TESTS_SPAWN_PROCESS_H_
#define FERSERVE_TESTS_SPAWN_PROCESS_H_

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace fer::testing {

// Where a spawned program's output goes.
struct ProcessOutput {
  std::string stdout_path;
  std::string stderr_path;  // empty: in stdout's file, interleaved as written
  bool append = false;      // add to the files instead of replacing them
};

// Starts `argv` (argv[0] a path, or a program looked up on PATH) in a child
// process with stdin from /dev/null, its output in files, and `env`
// ("NAME=value" each) in its environment over this process's variables of
// the same names. Its pid (-1 when fork failed); a program that cannot be
// run exits 127, output files that cannot be opened 126. Everything is
// prepared before the fork, so that the child only opens, duplicates and
// executes: nothing that could wait for a lock another thread of the test
// held at the fork.
inline pid_t SpawnProcess(std::vector<std::string> argv, const ProcessOutput& output,
                          std::vector<std::string> env = {}) {
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> replaced;  // "NAME=" of each added variable
  for (const std::string& added : env) replaced.push_back(added.substr(0, added.find('=') + 1));
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    const absl::string_view entry = *e;
    if (std::none_of(replaced.begin(), replaced.end(),
                     [&](const std::string& name) { return absl::StartsWith(entry, name); })) {
      envp.push_back(*e);
    }
  }
  for (std::string& added : env) envp.push_back(added.data());
  envp.push_back(nullptr);
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (output.append ? O_APPEND : O_TRUNC);
  const char* out_path = output.stdout_path.c_str();
  const char* err_path = output.stderr_path.empty() ? nullptr : output.stderr_path.c_str();

  const pid_t pid = fork();
  if (pid != 0) return pid;
  const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out = open(out_path, flags, 0644);
  const int err = err_path == nullptr ? out : open(err_path, flags, 0644);
  if (in < 0 || out < 0 || err < 0) _exit(126);
  dup2(in, STDIN_FILENO);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  execvpe(args[0], args.data(), envp.data());
  _exit(127);
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_SPAWN_PROCESS_H_
