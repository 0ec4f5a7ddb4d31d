#include "tests/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <string>

#include "tests/file_contents.h"
#include "tests/process_temp_dir.h"

namespace fer::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string TempPath(const std::string& name) { return ProcessTempDir() + "child_" + name; }

// Whether a process `pid` exists (a zombie counts): kill with signal 0.
bool Exists(pid_t pid) { return kill(pid, 0) == 0; }

TEST(ChildProcessTest, WaitExitGivesTheWaitStatusOnceItExits) {
  ChildProcess child({"sh", "-c", "sleep 0.3; echo done; exit 5"}, {TempPath("exit.log")});
  EXPECT_EQ(child.WaitExit(milliseconds(0)), -1);
  EXPECT_TRUE(child.running());
  const int status = child.WaitExit(seconds(10));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 5);
  EXPECT_FALSE(child.running());
  EXPECT_FALSE(Exists(child.pid()));  // reaped
  EXPECT_EQ(child.Log(), "done\n");
  EXPECT_EQ(child.Kill(), status);  // nothing left to kill
}

TEST(ChildProcessTest, KillsAndReapsWhatStillRuns) {
  pid_t pid = -1;
  {
    ChildProcess child({"sleep", "60"}, {TempPath("sleep.log")});
    pid = child.pid();
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(child.running());
    const int status = child.Kill();
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    EXPECT_FALSE(child.running());
  }
  EXPECT_FALSE(Exists(pid));

  auto destroyed = std::make_unique<ChildProcess>(std::vector<std::string>{"sleep", "60"},
                                                  ProcessOutput{TempPath("sleep2.log")});
  pid = destroyed->pid();
  EXPECT_TRUE(Exists(pid));
  destroyed.reset();
  EXPECT_FALSE(Exists(pid));  // killed and reaped by the destructor
}

TEST(ChildProcessTest, WaitUntilStopsWhenTheConditionHoldsOrTheProgramExits) {
  ChildProcess child({"sleep", "60"}, {TempPath("until.log")});
  int calls = 0;
  EXPECT_TRUE(child.WaitUntil([&] { return ++calls == 3; }, seconds(10), milliseconds(1)));
  EXPECT_EQ(calls, 3);
  EXPECT_FALSE(child.WaitUntil([] { return false; }, milliseconds(50), milliseconds(10)));
  EXPECT_TRUE(child.running());

  // A program that exits ends the wait at once, not after the timeout.
  ChildProcess quitter({"true"}, {TempPath("true.log")});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(quitter.WaitUntil([] { return false; }, seconds(30)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(20));
}

TEST(ChildProcessTest, AProgramThatCannotStartHasExited) {
  ChildProcess missing({"/nonexistent/program"}, {TempPath("missing.log")});
  const int status = missing.WaitExit(seconds(10));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 127);
}

TEST(RunChildProcessTest, CapturesOutputAndExitCode) {
  const ChildResult result = RunChildProcess({"/bin/sh", "-c", "echo out; echo err >&2; exit 4"});
  EXPECT_EQ(result.exit_code, 4);
  EXPECT_EQ(result.out, "out\n");
  EXPECT_EQ(result.err, "err\n");
}

TEST(RunChildProcessTest, KillsAProgramPastItsTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const ChildResult result =
      RunChildProcess({"/bin/sh", "-c", "echo started; exec sleep 60"}, seconds(1));
  EXPECT_EQ(result.exit_code, -1);
  EXPECT_EQ(result.out, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(30));
}

}  // namespace
}  // namespace fer::testing
