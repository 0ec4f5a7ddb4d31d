#include "lib/serving/periodic_task.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace fer {
namespace {

TEST(PeriodicTaskTest, RunsAtEachIntervalUntilDestroyed) {
  std::atomic<int> runs{0};
  auto task = std::make_unique<PeriodicTask>(absl::Milliseconds(5), [&runs] { ++runs; });
  for (int i = 0; i < 1000 && runs < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(runs.load(), 3);
  task.reset();
  const int after = runs.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(runs.load(), after);
}

TEST(PeriodicTaskTest, TheFirstRunWaitsOneIntervalAndDestructionDoesNotWaitForIt) {
  std::atomic<int> runs{0};
  const auto start = std::chrono::steady_clock::now();
  {
    PeriodicTask task(absl::Hours(1), [&runs] { ++runs; });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(runs.load(), 0);
  // Far below the hour; a destructor that waited out the interval would not
  // get here before CTest's timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(PeriodicTaskTest, DestructionWaitsForARunInProgress) {
  std::atomic<bool> started{false};
  std::atomic<bool> finished{false};
  {
    PeriodicTask task(absl::Milliseconds(1), [&] {
      if (started.exchange(true)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      finished = true;
    });
    while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace fer
