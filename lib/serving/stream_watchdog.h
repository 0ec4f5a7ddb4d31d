#ifndef FERSERVE_LIB_SERVING_STREAM_WATCHDOG_H_
#define FERSERVE_LIB_SERVING_STREAM_WATCHDOG_H_

#include <functional>
#include <memory>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace fer {

// Cancels streams that stay idle (no message from the client) longer than a
// bound: a blocked read cannot time out by itself on the synchronous gRPC API,
// so one thread watches every open stream. Thread-safe.
class StreamWatchdog {
 public:
  // One watched stream; unregisters when destroyed.
  class Watch {
   public:
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    // A message arrived: the idle clock restarts.
    void Touch();
    // Whether the watchdog cancelled the stream for idleness.
    bool expired() const;

   private:
    friend class StreamWatchdog;
    Watch(StreamWatchdog* owner, std::function<void()> cancel);

    StreamWatchdog* owner_;
    std::function<void()> cancel_;
    mutable absl::Mutex mu_;
    absl::Time last_ ABSL_GUARDED_BY(mu_);
    bool expired_ ABSL_GUARDED_BY(mu_) = false;
  };

  // `idle_timeout` of zero or less disables the watchdog (Start still works).
  explicit StreamWatchdog(absl::Duration idle_timeout,
                          absl::Duration period = absl::Milliseconds(100));
  ~StreamWatchdog();

  // Watches a stream; `cancel` (e.g. ServerContext::TryCancel) is called at
  // most once, from the watchdog's thread.
  std::unique_ptr<Watch> Start(std::function<void()> cancel);

 private:
  void Run();
  void Remove(Watch* watch);

  const absl::Duration idle_timeout_;
  const absl::Duration period_;
  absl::Mutex mu_;
  absl::flat_hash_set<Watch*> watches_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_STREAM_WATCHDOG_H_
