#include "lib/serving/dynamic_batcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/serving/model_call.h"

namespace fer {
namespace {

// How often a waiting caller checks whether it was cancelled.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(20);

DynamicBatcherOptions Sanitized(DynamicBatcherOptions options) {
  options.max_batch_size = std::max(1, options.max_batch_size);
  options.max_batch_delay = std::max(absl::ZeroDuration(), options.max_batch_delay);
  options.queue_limit = std::max(1, options.queue_limit);
  options.threads = std::max(1, options.threads);
  return options;
}

// Rows [begin, begin + count) of a batch's output.
BackboneOutput Rows(const BackboneOutput& out, int begin, int count) {
  const size_t classes = out.probabilities.size() / out.batch;
  const size_t dim = out.features.size() / out.batch;
  BackboneOutput rows;
  rows.batch = count;
  rows.probabilities.assign(out.probabilities.begin() + begin * classes,
                            out.probabilities.begin() + (begin + count) * classes);
  rows.features.assign(out.features.begin() + begin * dim,
                       out.features.begin() + (begin + count) * dim);
  return rows;
}

}  // namespace

struct DynamicBatcher::Pending {
  enum class State { kQueued, kRunning, kDone };

  BatchRequest request;
  int size = 0;
  absl::Time enqueued;
  State state = State::kQueued;
  absl::StatusOr<BackboneOutput> result;

  bool Expired(absl::Time now) const { return now >= request.deadline; }
  bool Cancelled() const { return request.cancelled && request.cancelled(); }
};

DynamicBatcher::DynamicBatcher(Executor executor, DynamicBatcherOptions options,
                               BatchObserver observer)
    : executor_(std::move(executor)), options_(Sanitized(options)), observer_(std::move(observer)) {
  for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

DynamicBatcher::~DynamicBatcher() { Shutdown(); }

void DynamicBatcher::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    shutdown_ = true;
  }
  absl::MutexLock lock(&join_mu_);
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

int DynamicBatcher::queued_crops() const {
  absl::MutexLock lock(&mu_);
  return queued_crops_;
}

absl::StatusOr<BackboneOutput> DynamicBatcher::Run(BatchRequest request) {
  if (request.crops.empty()) return BackboneOutput{};
  auto pending = std::make_shared<Pending>();
  pending->size = static_cast<int>(request.crops.size());
  pending->request = std::move(request);
  Pending* p = pending.get();

  absl::MutexLock lock(&mu_);
  if (shutdown_) return absl::UnavailableError("the inference batcher is shutting down");
  if (queued_crops_ > 0 && queued_crops_ + p->size > options_.queue_limit) {
    return absl::ResourceExhaustedError(absl::StrCat("inference queue full: ", queued_crops_,
                                                     " face crops waiting (limit ",
                                                     options_.queue_limit, "); retry later"));
  }
  p->enqueued = absl::Now();
  queue_.push_back(pending);
  queued_crops_ += p->size;

  auto done = [p]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return p->state == Pending::State::kDone; };
  while (!done()) {
    mu_.AwaitWithDeadline(absl::Condition(&done),
                          std::min(p->request.deadline, absl::Now() + kCancelPoll));
    if (done()) break;
    const bool expired = p->Expired(absl::Now());
    if (!expired && !p->Cancelled()) continue;
    // Give up: a queued request leaves the queue; a running one finishes
    // unobserved (its Pending is shared with the worker).
    if (p->state == Pending::State::kQueued) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), pending));
      queued_crops_ -= p->size;
    }
    return expired ? absl::DeadlineExceededError("deadline passed while queued for inference")
                   : absl::CancelledError("cancelled while queued for inference");
  }
  return std::move(p->result);
}

void DynamicBatcher::WorkerLoop() {
  while (true) {
    std::vector<std::shared_ptr<Pending>> batch = NextBatch();
    if (batch.empty()) return;
    Execute(batch);
  }
}

std::vector<std::shared_ptr<DynamicBatcher::Pending>> DynamicBatcher::NextBatch() {
  absl::MutexLock lock(&mu_);
  while (true) {
    auto has_work = [this]()
                        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || shutdown_; };
    mu_.Await(absl::Condition(&has_work));
    if (queue_.empty()) return {};  // shut down, nothing left

    // Let the batch fill until it is full or its oldest request has waited
    // max_batch_delay (re-aimed when the oldest leaves the queue).
    while (!queue_.empty() && !shutdown_ && queued_crops_ < options_.max_batch_size) {
      const Pending* oldest = queue_.front().get();
      const absl::Time flush_at = oldest->enqueued + options_.max_batch_delay;
      if (absl::Now() >= flush_at) break;
      auto changed = [this, oldest]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shutdown_ || queued_crops_ >= options_.max_batch_size || queue_.empty() ||
               queue_.front().get() != oldest;
      };
      mu_.AwaitWithDeadline(absl::Condition(&changed), flush_at);
    }

    // Oldest first, up to max_batch_size crops (a larger request alone);
    // expired and cancelled requests are answered instead of run.
    std::vector<std::shared_ptr<Pending>> batch;
    int crops = 0;
    const absl::Time now = absl::Now();
    while (!queue_.empty()) {
      std::shared_ptr<Pending> next = queue_.front();
      if (!batch.empty() && crops + next->size > options_.max_batch_size) break;
      queue_.pop_front();
      queued_crops_ -= next->size;
      if (next->Expired(now)) {
        next->result = absl::DeadlineExceededError("deadline passed while queued for inference");
        next->state = Pending::State::kDone;
      } else if (next->Cancelled()) {
        next->result = absl::CancelledError("cancelled while queued for inference");
        next->state = Pending::State::kDone;
      } else {
        next->state = Pending::State::kRunning;
        crops += next->size;
        batch.push_back(std::move(next));
      }
    }
    if (!batch.empty()) return batch;
  }
}

void DynamicBatcher::Execute(const std::vector<std::shared_ptr<Pending>>& batch) {
  // The crops move into one batch: their callers no longer read them.
  std::vector<RgbImage> crops;
  BatchStats stats;
  const absl::Time start = absl::Now();
  for (const std::shared_ptr<Pending>& p : batch) {
    for (RgbImage& crop : p->request.crops) crops.push_back(std::move(crop));
    stats.queue_seconds.push_back(absl::ToDoubleSeconds(start - p->enqueued));
  }
  stats.crops = static_cast<int>(crops.size());

  absl::StatusOr<BackboneOutput> out = CallModel("the backbone", [&] { return executor_(crops); });
  if (out.ok() &&
      (out->batch != stats.crops || out->probabilities.size() % std::max(1, out->batch) != 0 ||
       out->features.size() % std::max(1, out->batch) != 0)) {
    out = absl::InternalError(
        absl::StrCat("backbone answered ", out->batch, " rows for ", stats.crops, " face crops"));
  }
  // Observed before the callers wake, so that an answer's batch is counted
  // by the time the answer arrives.
  if (observer_) observer_(stats);
  {
    absl::MutexLock lock(&mu_);
    int begin = 0;
    for (const std::shared_ptr<Pending>& p : batch) {
      p->result = out.ok() ? absl::StatusOr<BackboneOutput>(Rows(*out, begin, p->size))
                           : absl::StatusOr<BackboneOutput>(out.status());
      p->state = Pending::State::kDone;
      begin += p->size;
    }
  }
}

}  // namespace fer
