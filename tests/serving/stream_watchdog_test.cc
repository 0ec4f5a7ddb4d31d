#include "lib/serving/stream_watchdog.h"

#include <gtest/gtest.h>

#include <atomic>

#include "absl/time/clock.h"

namespace fer {
namespace {

TEST(StreamWatchdogTest, CancelsOnlyStreamsIdleBeyondTheTimeout) {
  StreamWatchdog watchdog(absl::Milliseconds(200), absl::Milliseconds(10));
  std::atomic<int> idle_cancels{0}, busy_cancels{0};
  auto idle = watchdog.Start([&] { ++idle_cancels; });
  auto busy = watchdog.Start([&] { ++busy_cancels; });
  for (int i = 0; i < 40; ++i) {  // 400 ms of traffic on `busy` only
    busy->Touch();
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(idle_cancels.load(), 1);  // once, not once per check
  EXPECT_TRUE(idle->expired());
  EXPECT_EQ(busy_cancels.load(), 0);
  EXPECT_FALSE(busy->expired());
}

TEST(StreamWatchdogTest, FinishedStreamsAreForgottenAndZeroDisables) {
  std::atomic<int> cancels{0};
  {
    StreamWatchdog watchdog(absl::Milliseconds(50), absl::Milliseconds(5));
    {
      auto watch = watchdog.Start([&] { ++cancels; });
    }  // finished at once
    absl::SleepFor(absl::Milliseconds(150));
  }
  EXPECT_EQ(cancels.load(), 0);
  StreamWatchdog disabled(absl::ZeroDuration());
  auto watch = disabled.Start([&] { ++cancels; });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(cancels.load(), 0);
}

}  // namespace
}  // namespace fer
