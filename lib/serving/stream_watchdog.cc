#include "lib/serving/stream_watchdog.h"

#include <utility>
#include <vector>

#include "absl/time/clock.h"

namespace fer {

StreamWatchdog::Watch::Watch(StreamWatchdog* owner, std::function<void()> cancel)
    : owner_(owner), cancel_(std::move(cancel)), last_(absl::Now()) {}

StreamWatchdog::Watch::~Watch() { owner_->Remove(this); }

void StreamWatchdog::Watch::Touch() {
  absl::MutexLock lock(&mu_);
  last_ = absl::Now();
}

bool StreamWatchdog::Watch::expired() const {
  absl::MutexLock lock(&mu_);
  return expired_;
}

StreamWatchdog::StreamWatchdog(absl::Duration idle_timeout, absl::Duration period)
    : idle_timeout_(idle_timeout), period_(period) {
  if (idle_timeout_ > absl::ZeroDuration()) thread_ = std::thread([this] { Run(); });
}

StreamWatchdog::~StreamWatchdog() {
  stop_.Notify();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<StreamWatchdog::Watch> StreamWatchdog::Start(std::function<void()> cancel) {
  std::unique_ptr<Watch> watch(new Watch(this, std::move(cancel)));
  absl::MutexLock lock(&mu_);
  watches_.insert(watch.get());
  return watch;
}

void StreamWatchdog::Remove(Watch* watch) {
  absl::MutexLock lock(&mu_);
  watches_.erase(watch);
}

void StreamWatchdog::Run() {
  while (!stop_.WaitForNotificationWithTimeout(period_)) {
    const absl::Time now = absl::Now();
    // Cancelled under the set's lock so that no Watch is destroyed meanwhile
    // (its destructor waits for the lock); TryCancel does not block.
    absl::MutexLock lock(&mu_);
    for (Watch* watch : watches_) {
      absl::MutexLock watch_lock(&watch->mu_);
      if (!watch->expired_ && now - watch->last_ > idle_timeout_) {
        watch->expired_ = true;
        watch->cancel_();
      }
    }
  }
}

}  // namespace fer
