#include "lib/serving/stream_admission.h"

#include "absl/strings/str_cat.h"

namespace fer {

absl::StatusOr<std::unique_ptr<StreamAdmission::Ticket>> StreamAdmission::Admit() {
  absl::MutexLock lock(&mu_);
  if (draining_) {
    return absl::UnavailableError("server is shutting down; retry on another replica");
  }
  if (open_ >= max_streams_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many concurrent streams (limit ", max_streams_, "); retry later"));
  }
  ++open_;
  return std::make_unique<Ticket>(this);
}

void StreamAdmission::StartDraining() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
}

bool StreamAdmission::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

bool StreamAdmission::WaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return open_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

int StreamAdmission::open_streams() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

void StreamAdmission::Release() {
  absl::MutexLock lock(&mu_);
  --open_;
}

}  // namespace fer
