#include "tests/poll_until.h"

#include <gtest/gtest.h>

#include <chrono>

namespace fer::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(PollUntilTest, ReturnsOnceTheConditionHolds) {
  int calls = 0;
  const auto start = steady_clock::now();
  EXPECT_TRUE(PollUntil([&] { return ++calls == 3; }, std::chrono::seconds(30), milliseconds(5)));
  EXPECT_EQ(calls, 3);
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(PollUntilTest, AConditionThatAlreadyHoldsIsCalledOnce) {
  int calls = 0;
  EXPECT_TRUE(PollUntil([&] { return ++calls > 0; }, milliseconds(0)));
  EXPECT_EQ(calls, 1);
}

TEST(PollUntilTest, GivesUpAfterTheTimeoutHavingLookedOnceMoreAfterIt) {
  int calls = 0;
  steady_clock::time_point last_call;
  const auto start = steady_clock::now();
  EXPECT_FALSE(PollUntil(
      [&] {
        ++calls;
        last_call = steady_clock::now();
        return false;
      },
      milliseconds(100), milliseconds(10)));
  EXPECT_GE(last_call - start, milliseconds(100));
  EXPECT_GE(calls, 2);
  EXPECT_LE(calls, 12);
}

}  // namespace
}  // namespace fer::testing
