#include "tests/spawn_process.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "tests/file_contents.h"
#include "tests/process_temp_dir.h"

namespace fer::testing {
namespace {

// Waits for `pid`; its exit code, or -1 when it did not exit normally.
int ExitCode(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::string TempPath(const std::string& name) { return ProcessTempDir() + "spawn_" + name; }

TEST(SpawnProcessTest, OutputGoesToOneFileOrTwo) {
  const std::string both = TempPath("both.log");
  const pid_t together = SpawnProcess({"sh", "-c", "echo out; echo err >&2"}, {both});
  ASSERT_GT(together, 0);
  EXPECT_EQ(ExitCode(together), 0);
  EXPECT_EQ(ReadFileContents(both), "out\nerr\n");

  const std::string out = TempPath("out.log");
  const std::string err = TempPath("err.log");
  const pid_t apart = SpawnProcess({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, {out, err});
  EXPECT_EQ(ExitCode(apart), 3);
  EXPECT_EQ(ReadFileContents(out), "out\n");
  EXPECT_EQ(ReadFileContents(err), "err\n");
}

TEST(SpawnProcessTest, ReplacesOrAppendsToTheLog) {
  const std::string log = TempPath("append.log");
  EXPECT_EQ(ExitCode(SpawnProcess({"echo", "first"}, {log})), 0);
  EXPECT_EQ(ExitCode(SpawnProcess({"echo", "second"}, {log})), 0);
  EXPECT_EQ(ReadFileContents(log), "second\n");
  ProcessOutput appending{log};
  appending.append = true;
  EXPECT_EQ(ExitCode(SpawnProcess({"echo", "third"}, appending)), 0);
  EXPECT_EQ(ReadFileContents(log), "second\nthird\n");
}

// `env` prints the environment exactly as the program received it (a shell
// would have merged repeated names).
TEST(SpawnProcessTest, AddedVariablesOverrideInheritedOnes) {
  ASSERT_EQ(setenv("FER_SPAWN_TEST_INHERITED", "kept", 1), 0);
  ASSERT_EQ(setenv("FER_SPAWN_TEST_REPLACED", "old", 1), 0);
  ASSERT_EQ(setenv("FER_SPAWN_TEST_REPLACED_TOO", "kept", 1), 0);  // only the same name
  const std::string log = TempPath("env.log");
  const pid_t pid =
      SpawnProcess({"env"}, {log}, {"FER_SPAWN_TEST_REPLACED=new", "FER_SPAWN_TEST_NEW=added"});
  EXPECT_EQ(ExitCode(pid), 0);
  std::vector<std::string> ours;
  for (const absl::string_view line : absl::StrSplit(ReadFileContents(log), '\n')) {
    if (absl::StartsWith(line, "FER_SPAWN_TEST_")) ours.emplace_back(line);
  }
  std::sort(ours.begin(), ours.end());
  EXPECT_EQ(ours, (std::vector<std::string>{
                      "FER_SPAWN_TEST_INHERITED=kept", "FER_SPAWN_TEST_NEW=added",
                      "FER_SPAWN_TEST_REPLACED=new", "FER_SPAWN_TEST_REPLACED_TOO=kept"}));
}

// Not the test's own stdin: a program reading it must not take (or wait
// for) what the test was given.
TEST(SpawnProcessTest, StdinIsEmpty) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  ASSERT_EQ(write(pipe_fds[1], "abc", 3), 3);
  close(pipe_fds[1]);
  const int saved_stdin = dup(STDIN_FILENO);
  ASSERT_GE(dup2(pipe_fds[0], STDIN_FILENO), 0);
  const std::string log = TempPath("stdin.log");
  const pid_t pid = SpawnProcess({"wc", "-c"}, {log});
  dup2(saved_stdin, STDIN_FILENO);
  close(saved_stdin);
  close(pipe_fds[0]);
  EXPECT_EQ(ExitCode(pid), 0);
  EXPECT_EQ(ReadFileContents(log), "0\n");
}

TEST(SpawnProcessTest, SaysWhenItCannotRunTheProgramOrOpenItsLog) {
  EXPECT_EQ(ExitCode(SpawnProcess({"/nonexistent/program"}, {TempPath("missing.log")})), 127);
  EXPECT_EQ(ExitCode(SpawnProcess({"no-such-program-on-path"}, {TempPath("missing.log")})), 127);
  EXPECT_EQ(ExitCode(SpawnProcess({"true"}, {"/nonexistent/folder/log"})), 126);
}

}  // namespace
}  // namespace fer::testing
