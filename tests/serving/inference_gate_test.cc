#include "lib/serving/inference_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace fer {
namespace {

// Waits are bounded, so that a gate that loses slots fails the tests
// instead of hanging them.
absl::Time Soon() { return absl::Now() + absl::Seconds(10); }

TEST(InferenceGateTest, NeverAdmitsMoreThanItsSlots) {
  InferenceGate gate(2);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        const std::optional<InferenceGate::Slot> slot = gate.Take(Soon());
        ASSERT_TRUE(slot.has_value());
        const int now = ++inside;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        absl::SleepFor(absl::Microseconds(200));
        --inside;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 2);
  EXPECT_GE(most.load(), 1);
}

TEST(InferenceGateTest, TakeGivesUpAtTheDeadline) {
  InferenceGate gate(1);
  std::optional<InferenceGate::Slot> held = gate.Take(Soon());
  ASSERT_TRUE(held.has_value());
  EXPECT_FALSE(gate.Take(absl::Now() + absl::Milliseconds(10)).has_value());
  held.reset();
  EXPECT_TRUE(gate.Take(absl::Now() + absl::Milliseconds(10)).has_value());
}

TEST(InferenceGateTest, ASlotGoesBackWhenAnExceptionUnwindsPastIt) {
  InferenceGate gate(2);
  for (int i = 0; i < 5; ++i) {
    try {
      const std::optional<InferenceGate::Slot> slot = gate.Take(Soon());
      ASSERT_TRUE(slot.has_value());
      EXPECT_EQ(gate.free_slots(), 1);
      throw std::runtime_error("model failed");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(gate.free_slots(), 2);
  }
}

TEST(InferenceGateTest, AMovedSlotIsGivenBackOnce) {
  InferenceGate gate(2);
  {
    std::optional<InferenceGate::Slot> first = gate.Take(Soon());
    ASSERT_TRUE(first.has_value());
    const InferenceGate::Slot moved(std::move(*first));
    first.reset();  // the moved-from slot holds nothing
    EXPECT_EQ(gate.free_slots(), 1);
  }
  EXPECT_EQ(gate.free_slots(), 2);
}

}  // namespace
}  // namespace fer
