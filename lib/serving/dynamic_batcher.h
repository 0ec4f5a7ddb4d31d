#ifndef FERSERVE_LIB_SERVING_DYNAMIC_BATCHER_H_
#define FERSERVE_LIB_SERVING_DYNAMIC_BATCHER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/model/face_analyzer.h"
#include "lib/vision/image.h"

namespace fer {

struct DynamicBatcherOptions {
  // Most face crops in one executed batch. A request with more crops than
  // this runs as a batch of its own.
  int max_batch_size = 32;
  // Longest time the oldest queued request waits for a batch to fill before
  // a batch runs with what is there. Zero still batches: a batch takes what
  // queued while the previous one ran.
  absl::Duration max_batch_delay = absl::ZeroDuration();
  // Most face crops waiting to run. A request that would go beyond it is
  // refused with ResourceExhausted (unless the queue is empty, so that any
  // request can run).
  int queue_limit = 256;
  // Threads executing batches; each runs one batch at a time.
  int threads = 1;
};

// What one executed batch held, for metrics; reported after execution,
// before its callers get their answers.
struct BatchStats {
  int crops = 0;                      // face crops in the batch
  std::vector<double> queue_seconds;  // per request: submission to execution
};

// One caller's request: its face crops, and when to give up on them.
struct BatchRequest {
  std::vector<RgbImage> crops;
  absl::Time deadline = absl::InfiniteFuture();
  // Polled before execution and while waiting; true drops the request with
  // Cancelled. May be empty. Called from any thread.
  std::function<bool()> cancelled;
};

// Groups the face crops that many streams submit into batches for one
// model execution, as Triton's dynamic batcher does: a batch runs as soon
// as it holds max_batch_size crops, or when its oldest request has waited
// max_batch_delay. Requests are taken in arrival order, so a caller that
// waits for each answer before submitting the next (as Run does) gets its
// answers in order. Requests whose deadline passed or whose caller went away
// are dropped before execution. Thread-safe.
class DynamicBatcher {
 public:
  // Runs the backbone on a batch of crops; its output has one row per crop,
  // in order (FaceAnalyzer::RunBackbone's contract).
  using Executor = std::function<absl::StatusOr<BackboneOutput>(const std::vector<RgbImage>&)>;
  using BatchObserver = std::function<void(const BatchStats&)>;

  // Starts options.threads worker threads. `observer` may be empty.
  DynamicBatcher(Executor executor, DynamicBatcherOptions options, BatchObserver observer = {});
  // Shuts down (see Shutdown).
  ~DynamicBatcher();

  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Submits the request and blocks until its rows are computed: the
  // backbone output for request.crops alone (batch = crops.size()). Errors:
  // ResourceExhausted (queue full), DeadlineExceeded, Cancelled,
  // Unavailable (shut down), or the executor's error.
  absl::StatusOr<BackboneOutput> Run(BatchRequest request);

  // Refuses new requests (Unavailable), runs those already queued, and
  // joins the workers. Idempotent.
  void Shutdown();

  // Face crops waiting to run.
  int queued_crops() const;

 private:
  struct Pending;

  void WorkerLoop();
  // Takes the next batch off the queue, waiting for it to fill; empty
  // when shut down with nothing left. Requests dropped on the way are
  // answered (under mu_).
  std::vector<std::shared_ptr<Pending>> NextBatch();
  void Execute(const std::vector<std::shared_ptr<Pending>>& batch);

  const Executor executor_;
  const DynamicBatcherOptions options_;
  const BatchObserver observer_;

  mutable absl::Mutex mu_;
  std::deque<std::shared_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  int queued_crops_ ABSL_GUARDED_BY(mu_) = 0;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
  absl::Mutex join_mu_;  // serializes Shutdown's joins
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_DYNAMIC_BATCHER_H_
