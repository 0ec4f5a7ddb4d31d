#include "lib/serving/inference_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
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

// Waits until `n` callers wait at `gate`.
void AwaitWaiting(const InferenceGate& gate, int n) {
  const absl::Time give_up = Soon();
  while (gate.waiting() != n && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(gate.waiting(), n);
}

// Callers lining up at a gate whose slots are held: each asks once the one
// before it waits, and holds its slot for `hold` once it gets one. Notes
// who got a slot, in order.
class Line {
 public:
  explicit Line(InferenceGate& gate) : gate_(gate) {}
  ~Line() { Finish(); }

  void Join(const std::string& who,
            InferenceGate::Priority priority = InferenceGate::Priority::kStarting,
            absl::Duration hold = absl::Milliseconds(2)) {
    threads_.emplace_back([this, who, priority, hold] {
      const std::optional<InferenceGate::Slot> slot = gate_.Take(Soon(), priority);
      ASSERT_TRUE(slot.has_value());
      Arrived(who);
      absl::SleepFor(hold);
    });
    AwaitWaiting(gate_, static_cast<int>(threads_.size()));
  }

  void Arrived(const std::string& who) {
    absl::MutexLock lock(&mu_);
    order_ += who;
  }

  // Waits for every caller in the line to be done; the order they got in.
  std::string Finish() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    absl::MutexLock lock(&mu_);
    return order_;
  }

 private:
  InferenceGate& gate_;
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  std::string order_;
};

TEST(InferenceGateTest, SlotsGoInOrderOfAsking) {
  InferenceGate gate(1);
  std::optional<InferenceGate::Slot> held = gate.Take(Soon());
  ASSERT_TRUE(held.has_value());
  Line line(gate);
  for (const char* who : {"a", "b", "c", "d"}) line.Join(who);
  held.reset();
  EXPECT_EQ(line.Finish(), "abcd");
}

TEST(InferenceGateTest, ACallerThatGaveASlotBackQueuesBehindThoseWaiting) {
  // A stream whose frame just finished must not take the slot it gave back
  // ahead of a stream that has been waiting: without the line it would,
  // being awake while the waiter still wakes up.
  InferenceGate gate(1);
  std::optional<InferenceGate::Slot> held = gate.Take(Soon());
  ASSERT_TRUE(held.has_value());
  Line line(gate);
  line.Join("w", InferenceGate::Priority::kStarting, absl::Milliseconds(20));
  for (int i = 0; i < 3; ++i) {
    held.reset();
    std::optional<InferenceGate::Slot> again = gate.Take(Soon());
    ASSERT_TRUE(again.has_value());
    line.Arrived("r");
    held.emplace(std::move(*again));
  }
  held.reset();
  const std::string order = line.Finish();
  EXPECT_EQ(order.front(), 'w') << order;
}

TEST(InferenceGateTest, FinishingWorkGoesAheadOfStartingWork) {
  InferenceGate gate(1);
  std::optional<InferenceGate::Slot> held = gate.Take(Soon());
  ASSERT_TRUE(held.has_value());
  Line line(gate);
  line.Join("s", InferenceGate::Priority::kStarting);
  line.Join("t", InferenceGate::Priority::kStarting);
  line.Join("F", InferenceGate::Priority::kFinishing);
  line.Join("G", InferenceGate::Priority::kFinishing);
  held.reset();
  EXPECT_EQ(line.Finish(), "FGst");
}

TEST(InferenceGateTest, AWaiterPastItsDeadlineLeavesTheLine) {
  InferenceGate gate(1);
  std::optional<InferenceGate::Slot> held = gate.Take(Soon());
  ASSERT_TRUE(held.has_value());
  // The first in line gives up; the one behind it is served.
  std::thread impatient(
      [&] { EXPECT_FALSE(gate.Take(absl::Now() + absl::Milliseconds(30)).has_value()); });
  AwaitWaiting(gate, 1);
  std::atomic<bool> served{false};
  std::thread patient([&] {
    const std::optional<InferenceGate::Slot> slot = gate.Take(Soon());
    EXPECT_TRUE(slot.has_value());
    served = true;
  });
  AwaitWaiting(gate, 2);
  impatient.join();
  EXPECT_EQ(gate.waiting(), 1);
  held.reset();
  patient.join();
  EXPECT_TRUE(served);
  EXPECT_EQ(gate.waiting(), 0);
  EXPECT_EQ(gate.free_slots(), 1);
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
