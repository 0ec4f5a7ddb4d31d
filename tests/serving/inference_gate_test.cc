#include "lib/serving/inference_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/time/clock.h"

namespace fer {
namespace {

TEST(InferenceGateTest, NeverAdmitsMoreThanItsSlots) {
  InferenceGate gate(2);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(gate.Acquire(absl::InfiniteFuture()));
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        absl::SleepFor(absl::Microseconds(200));
        --inside;
        gate.Release();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 2);
  EXPECT_GE(most.load(), 1);
}

TEST(InferenceGateTest, AcquireGivesUpAtTheDeadline) {
  InferenceGate gate(1);
  ASSERT_TRUE(gate.Acquire(absl::InfiniteFuture()));
  EXPECT_FALSE(gate.Acquire(absl::Now() + absl::Milliseconds(10)));
  gate.Release();
  EXPECT_TRUE(gate.Acquire(absl::Now() + absl::Milliseconds(10)));
}

}  // namespace
}  // namespace fer
