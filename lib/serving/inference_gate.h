#ifndef FERSERVE_LIB_SERVING_INFERENCE_GATE_H_
#define FERSERVE_LIB_SERVING_INFERENCE_GATE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fer {

// Bounds how many model executions run at once (a counting semaphore), so
// that frames queue here (measured as the queue stage) rather than crowd
// the cores. Waiting is bounded by a deadline. Thread-safe.
//
// Slots go out in order of asking, so that a frame's wait is set by the
// frames ahead of it and no stream's frames are overtaken again and again
// (the tail latency of many streams). Executions that finish work already
// under way (`Priority::kFinishing`: a backbone batch of frames past their
// detection) go before those that start new work, so that a frame, once
// detected, does not queue a second time behind every frame that arrived
// since.
class InferenceGate {
 public:
  enum class Priority { kStarting, kFinishing };

  // A held slot, given back when the Slot is destroyed, also when an
  // exception unwinds past it: a slot never leaks.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : gate_(std::exchange(other.gate_, nullptr)) {}
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (gate_ != nullptr) gate_->Release();
    }

   private:
    friend class InferenceGate;
    explicit Slot(InferenceGate* gate) : gate_(gate) {}
    InferenceGate* gate_;
  };

  explicit InferenceGate(int slots) : free_(slots < 1 ? 1 : slots) {}

  // Waits for a slot, behind those who asked before at the same priority
  // and behind every waiter at a higher one; nullopt when the deadline
  // passed first.
  std::optional<Slot> Take(absl::Time deadline, Priority priority = Priority::kStarting);

  // Slots not taken.
  int free_slots() const {
    absl::MutexLock lock(&mu_);
    return free_;
  }

  // Callers waiting for a slot.
  int waiting() const {
    absl::MutexLock lock(&mu_);
    return static_cast<int>(starting_.size() + finishing_.size());
  }

 private:
  void Release() {
    absl::MutexLock lock(&mu_);
    ++free_;
  }

  // Whether `ticket`, waiting in `queue`, is the next to get a slot.
  bool IsNext(const std::deque<uint64_t>& queue, uint64_t ticket) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  int free_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  // Waiters' tickets in order of asking, per priority.
  std::deque<uint64_t> starting_ ABSL_GUARDED_BY(mu_);
  std::deque<uint64_t> finishing_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_INFERENCE_GATE_H_
