#ifndef FERSERVE_LIB_SERVING_INFERENCE_GATE_H_
#define FERSERVE_LIB_SERVING_INFERENCE_GATE_H_

#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fer {

// Bounds how many model executions run at once (a counting semaphore), so
// that frames queue here (measured as the queue stage) rather than crowd
// the cores. Waiting is bounded by a deadline. Thread-safe.
class InferenceGate {
 public:
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

  // Waits for a slot; nullopt when the deadline passed first.
  std::optional<Slot> Take(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return free_ > 0; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&available), deadline)) return std::nullopt;
    --free_;
    return Slot(this);
  }

  // Slots not taken.
  int free_slots() const {
    absl::MutexLock lock(&mu_);
    return free_;
  }

 private:
  void Release() {
    absl::MutexLock lock(&mu_);
    ++free_;
  }

  mutable absl::Mutex mu_;
  int free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_INFERENCE_GATE_H_
