#ifndef FERSERVE_LIB_SERVING_STREAM_ADMISSION_H_
#define FERSERVE_LIB_SERVING_STREAM_ADMISSION_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fer {

// Decides whether a new stream may start: refuses beyond a maximum of
// concurrent streams (ResourceExhausted) and once draining has begun
// (Unavailable). A drain waits for the admitted streams to finish, up to a
// deadline. Thread-safe.
class StreamAdmission {
 public:
  // Held by an admitted stream; releases its slot when destroyed.
  class Ticket {
   public:
    explicit Ticket(StreamAdmission* owner) : owner_(owner) {}
    ~Ticket() { owner_->Release(); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    StreamAdmission* owner_;
  };

  explicit StreamAdmission(int max_streams) : max_streams_(max_streams) {}

  absl::StatusOr<std::unique_ptr<Ticket>> Admit();

  // Stops admitting; later Admit() calls fail with Unavailable.
  void StartDraining();
  bool draining() const;

  // Blocks until no stream is open or the deadline passes; true when idle.
  bool WaitIdle(absl::Time deadline);

  int open_streams() const;

 private:
  void Release();

  const int max_streams_;
  mutable absl::Mutex mu_;
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_STREAM_ADMISSION_H_
