#include "lib/serving/inference_gate.h"

#include <algorithm>

namespace fer {

bool InferenceGate::IsNext(const std::deque<uint64_t>& queue, uint64_t ticket) const {
  if (free_ == 0 || queue.front() != ticket) return false;
  return &queue == &finishing_ || finishing_.empty();
}

std::optional<InferenceGate::Slot> InferenceGate::Take(absl::Time deadline, Priority priority) {
  absl::MutexLock lock(&mu_);
  std::deque<uint64_t>& queue = priority == Priority::kFinishing ? finishing_ : starting_;
  const uint64_t ticket = next_ticket_++;
  queue.push_back(ticket);
  auto next = [this, &queue, ticket]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return IsNext(queue, ticket); };
  if (!mu_.AwaitWithDeadline(absl::Condition(&next), deadline)) {
    // Out of the line; whoever was behind may now be next.
    queue.erase(std::find(queue.begin(), queue.end(), ticket));
    return std::nullopt;
  }
  queue.pop_front();
  --free_;
  return Slot(this);
}

}  // namespace fer
