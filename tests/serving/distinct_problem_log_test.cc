#include "lib/serving/distinct_problem_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fer {
namespace {

TEST(DistinctProblemLogTest, ReportsEachDistinctProblemOnce) {
  std::vector<std::string> lines;
  DistinctProblemLog problems([&](absl::string_view line) { lines.emplace_back(line); });
  problems.Report("not reloaded: ", "file missing");
  problems.Report("not reloaded: ", "file missing");
  problems.Report("not reloaded: ", "line 2 malformed");
  problems.Report("not reloaded: ", "line 2 malformed");
  problems.Report("not reloaded: ", "file missing");
  EXPECT_EQ(lines, (std::vector<std::string>{"not reloaded: file missing",
                                             "not reloaded: line 2 malformed",
                                             "not reloaded: file missing"}));
}

TEST(DistinctProblemLogTest, AProblemAfterASuccessIsNews) {
  std::vector<std::string> lines;
  DistinctProblemLog problems([&](absl::string_view line) { lines.emplace_back(line); });
  problems.Report("", "file missing");
  problems.Clear();
  problems.Report("", "file missing");
  EXPECT_EQ(lines, (std::vector<std::string>{"file missing", "file missing"}));
}

TEST(DistinctProblemLogTest, WorksWithoutALog) {
  DistinctProblemLog problems(nullptr);
  problems.Report("x: ", "y");  // nothing to call; must not crash
  problems.Clear();
}

}  // namespace
}  // namespace fer
