#ifndef FERSERVE_LIB_SERVING_INFERENCE_GATE_H_
#define FERSERVE_LIB_SERVING_INFERENCE_GATE_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fer {

// Bounds how many model executions run at once (a counting semaphore), so
// that frames queue here (measured as the queue stage) rather than crowd
// the cores. Waiting is bounded by a deadline. Thread-safe.
class InferenceGate {
 public:
  explicit InferenceGate(int slots) : free_(slots < 1 ? 1 : slots) {}

  // Takes a slot; false when the deadline passed first.
  bool Acquire(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto available = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return free_ > 0; };
    if (!mu_.AwaitWithDeadline(absl::Condition(&available), deadline)) return false;
    --free_;
    return true;
  }

  void Release() {
    absl::MutexLock lock(&mu_);
    ++free_;
  }

 private:
  absl::Mutex mu_;
  int free_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_INFERENCE_GATE_H_
