#include "lib/serving/stale_frame_filter.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace fer {
namespace {

constexpr int64_t kFrameUs = 33'333;  // 30 frames/s
// The server's clock: any origin, unrelated to the capture clock's.
const absl::Time kServerStart = absl::FromUnixSeconds(1'800'000'000);

// Admits a frame and expects the decision to succeed.
bool Admit(StaleFrameFilter& filter, int64_t timestamp_us, absl::Time arrival) {
  absl::StatusOr<bool> admitted = filter.Admit(timestamp_us, arrival);
  EXPECT_TRUE(admitted.ok()) << admitted.status();
  return admitted.value_or(false);
}

// The reference rises by 1 ms per second between frames, so a lag is only
// near the wait put in.
void ExpectLagNear(const StaleFrameFilter& filter, double ms) {
  EXPECT_NEAR(absl::ToDoubleMilliseconds(filter.last_lag()), ms, 0.2);
}

TEST(StaleFrameFilterTest, FramesOnTimeAreAnalyzedWhateverTheClocksOrigins) {
  StaleFrameFilter filter(absl::Milliseconds(5));
  const int64_t capture_start_us = 42;  // a camera counting from its own start
  for (int i = 0; i < 100; ++i) {
    const int64_t ts = capture_start_us + i * kFrameUs;
    // A constant 20 ms from capture to the server is no lag.
    ASSERT_TRUE(Admit(filter, ts,
                      kServerStart + absl::Microseconds(i * kFrameUs) + absl::Milliseconds(20)));
    EXPECT_EQ(filter.last_lag(), absl::ZeroDuration());
  }
}

TEST(StaleFrameFilterTest, ALateFrameIsSkippedAndTheNextOnTimeOneAnalyzed) {
  StaleFrameFilter filter(absl::Milliseconds(50));
  EXPECT_TRUE(Admit(filter, 0, kServerStart));
  EXPECT_TRUE(Admit(filter, kFrameUs,
                    kServerStart + absl::Microseconds(kFrameUs) + absl::Milliseconds(50)));
  ExpectLagNear(filter, 50);
  EXPECT_FALSE(Admit(filter, 2 * kFrameUs,
                     kServerStart + absl::Microseconds(2 * kFrameUs) + absl::Milliseconds(51)));
  ExpectLagNear(filter, 51);
  EXPECT_TRUE(Admit(filter, 3 * kFrameUs,
                    kServerStart + absl::Microseconds(3 * kFrameUs) + absl::Milliseconds(1)));
}

TEST(StaleFrameFilterTest, TheLeastDelayedFrameSetsTheReference) {
  StaleFrameFilter filter(absl::Milliseconds(30));
  // The first frame took 40 ms to arrive, the second 5 ms: the first one's
  // extra 35 ms was a wait, and a third frame with such a wait is late.
  EXPECT_TRUE(Admit(filter, 0, kServerStart + absl::Milliseconds(40)));
  EXPECT_TRUE(
      Admit(filter, kFrameUs, kServerStart + absl::Microseconds(kFrameUs) + absl::Milliseconds(5)));
  EXPECT_EQ(filter.last_lag(), absl::ZeroDuration());
  EXPECT_FALSE(Admit(filter, 2 * kFrameUs,
                     kServerStart + absl::Microseconds(2 * kFrameUs) + absl::Milliseconds(40)));
  ExpectLagNear(filter, 35);
}

TEST(StaleFrameFilterTest, AnAdmittedFrameGoesStaleWhenItsLagWouldPassTheMaximum) {
  StaleFrameFilter filter(absl::Milliseconds(50));
  ASSERT_TRUE(Admit(filter, 0, kServerStart));
  const absl::Time arrival =
      kServerStart + absl::Microseconds(kFrameUs) + absl::Milliseconds(20);  // 20 ms late
  ASSERT_TRUE(Admit(filter, kFrameUs, arrival));
  // 30 ms more of waiting make it 50 ms late.
  EXPECT_NEAR(absl::ToDoubleMilliseconds(filter.StaleAt(kFrameUs) - arrival),
              50 - absl::ToDoubleMilliseconds(filter.last_lag()), 1e-6);
  EXPECT_NEAR(absl::ToDoubleMilliseconds(filter.StaleAt(kFrameUs) - arrival), 30, 0.2);
}

TEST(StaleFrameFilterTest, TimestampsMustIncrease) {
  StaleFrameFilter filter(absl::Milliseconds(100));
  ASSERT_TRUE(Admit(filter, 1000, kServerStart));
  for (int64_t ts : {1000, 999}) {
    const absl::StatusOr<bool> admitted = filter.Admit(ts, kServerStart + absl::Milliseconds(1));
    EXPECT_EQ(admitted.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(admitted.status().message().find("timestamp_us"), std::string::npos);
  }
  // Frames without timestamps (all 0) are refused from the second one.
  StaleFrameFilter unset(absl::Milliseconds(100));
  ASSERT_TRUE(Admit(unset, 0, kServerStart));
  EXPECT_FALSE(unset.Admit(0, kServerStart + absl::Milliseconds(33)).ok());
}

TEST(StaleFrameFilterTest, ACaptureClockRunningSlowIsNotALag) {
  // The camera's clock runs 100 ppm slow: ten minutes at 30 frames/s put
  // its timestamps 60 ms behind the server's clock, a lag that is none.
  StaleFrameFilter filter(absl::Milliseconds(5));
  int skipped = 0;
  for (int64_t i = 0; i < 10 * 60 * 30; ++i) {
    const int64_t ts = i * kFrameUs * 9999 / 10000;
    skipped += !Admit(filter, ts, kServerStart + absl::Microseconds(i * kFrameUs));
  }
  EXPECT_EQ(skipped, 0);
  EXPECT_LT(filter.last_lag(), absl::Milliseconds(1));
}

TEST(StaleFrameFilterTest, AServerTooSlowForTheCameraAnalyzesTheFreshFramesOnly) {
  // A camera at 30 frames/s, a server that takes 80 ms per analyzed frame
  // and no time to skip one. Frames queue while one is analyzed; the next
  // read finds the oldest of them.
  constexpr int kFrames = 300;
  const absl::Duration analysis = absl::Milliseconds(80);
  const absl::Duration max_lag = absl::Milliseconds(20);
  StaleFrameFilter filter(max_lag);
  absl::Time server_free = kServerStart;
  std::vector<absl::Duration> latencies;  // capture to answer, analyzed frames
  for (int i = 0; i < kFrames; ++i) {
    const absl::Time captured = kServerStart + absl::Microseconds(i * kFrameUs);
    const absl::Time read = std::max(captured, server_free);
    if (Admit(filter, i * kFrameUs, read)) {
      server_free = read + analysis;
      latencies.push_back(server_free - captured);
    } else {
      server_free = read;
    }
  }
  // Every 80 ms of work is followed by at most one frame's wait for a fresh
  // frame: at least one frame in four is analyzed, each within the maximum
  // lag plus its own analysis.
  EXPECT_GE(latencies.size(), static_cast<size_t>(kFrames / 4));
  for (absl::Duration latency : latencies) EXPECT_LE(latency, max_lag + analysis);
}

}  // namespace
}  // namespace fer
