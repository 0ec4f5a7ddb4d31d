#include "lib/serving/dynamic_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

namespace fer {
namespace {

// A crop that says who sent it: its width is the tag.
RgbImage Tagged(int tag) { return RgbImage{tag, 1, std::vector<uint8_t>(tag * 3, 0)}; }

std::vector<RgbImage> Crops(std::vector<int> tags) {
  std::vector<RgbImage> crops;
  for (int tag : tags) crops.push_back(Tagged(tag));
  return crops;
}

BatchRequest Request(std::vector<int> tags, absl::Time deadline = absl::InfiniteFuture()) {
  BatchRequest request;
  request.crops = Crops(std::move(tags));
  request.deadline = deadline;
  return request;
}

// A backbone stand-in that records every batch: one row per crop, whose two
// "probabilities" and one "feature" repeat the crop's tag. Optionally holds
// each batch until released.
class FakeBackbone {
 public:
  explicit FakeBackbone(bool hold = false) : hold_(hold) {}

  DynamicBatcher::Executor executor() {
    return [this](const std::vector<RgbImage>& crops) -> absl::StatusOr<BackboneOutput> {
      {
        absl::MutexLock lock(&mu_);
        std::vector<int> tags;
        for (const RgbImage& c : crops) tags.push_back(c.width);
        batches_.push_back(tags);
      }
      if (!entered_.HasBeenNotified()) entered_.Notify();
      if (hold_) release_.WaitForNotification();
      BackboneOutput out;
      out.batch = static_cast<int>(crops.size());
      for (const RgbImage& c : crops) {
        out.probabilities.push_back(static_cast<float>(c.width));
        out.probabilities.push_back(static_cast<float>(c.width));
        out.features.push_back(static_cast<float>(c.width));
      }
      return out;
    };
  }

  void WaitEntered() { entered_.WaitForNotification(); }
  void Release() { release_.Notify(); }
  std::vector<std::vector<int>> batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  const bool hold_;
  absl::Notification entered_;
  absl::Notification release_;
  absl::Mutex mu_;
  std::vector<std::vector<int>> batches_ ABSL_GUARDED_BY(mu_);
};

DynamicBatcherOptions Options(int max_batch, absl::Duration delay, int limit = 1000,
                              int threads = 1) {
  DynamicBatcherOptions o;
  o.max_batch_size = max_batch;
  o.max_batch_delay = delay;
  o.queue_limit = limit;
  o.threads = threads;
  return o;
}

void ExpectRowsOf(const absl::StatusOr<BackboneOutput>& out, const std::vector<int>& tags) {
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->batch, static_cast<int>(tags.size()));
  ASSERT_EQ(out->probabilities.size(), 2 * tags.size());
  ASSERT_EQ(out->features.size(), tags.size());
  for (size_t i = 0; i < tags.size(); ++i) {
    EXPECT_EQ(out->probabilities[2 * i], tags[i]);
    EXPECT_EQ(out->features[i], tags[i]);
  }
}

TEST(DynamicBatcherTest, FullBatchesRunWithoutWaitingForTheDelay) {
  FakeBackbone backbone;
  std::vector<BatchStats> seen;
  absl::Mutex seen_mu;
  DynamicBatcher batcher(backbone.executor(), Options(4, absl::Seconds(30)),
                         [&](const BatchStats& s) {
                           absl::MutexLock lock(&seen_mu);
                           seen.push_back(s);
                         });
  const absl::Time start = absl::Now();
  std::vector<std::thread> callers;
  for (int c = 1; c <= 8; ++c) {
    callers.emplace_back([&, c] { ExpectRowsOf(batcher.Run(Request({c})), {c}); });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  const std::vector<std::vector<int>> batches = backbone.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].size(), 4u);
  EXPECT_EQ(batches[1].size(), 4u);
  absl::MutexLock lock(&seen_mu);
  ASSERT_EQ(seen.size(), 2u);
  for (const BatchStats& s : seen) {
    EXPECT_EQ(s.crops, 4);
    EXPECT_EQ(s.queue_seconds.size(), 4u);
  }
}

TEST(DynamicBatcherTest, RequestsOfSeveralCropsShareABatchWithinTheMaximum) {
  FakeBackbone backbone(/*hold=*/true);
  DynamicBatcher batcher(backbone.executor(), Options(4, absl::Milliseconds(200)));
  // A full first batch runs at once and holds the worker while the next
  // requests queue up, in a known order.
  std::thread first([&] { ExpectRowsOf(batcher.Run(Request({1, 2, 3, 4})), {1, 2, 3, 4}); });
  backbone.WaitEntered();
  std::vector<std::thread> next;
  int queued = 0;
  for (const std::vector<int>& tags : {std::vector<int>{5, 6}, {7, 8}, {9}}) {
    next.emplace_back([&batcher, tags] { ExpectRowsOf(batcher.Run(Request(tags)), tags); });
    queued += static_cast<int>(tags.size());
    while (batcher.queued_crops() < queued) absl::SleepFor(absl::Milliseconds(1));
  }
  backbone.Release();
  first.join();
  for (std::thread& t : next) t.join();
  // [5,6] and [7,8] fill a batch; [9] would overflow it and runs after its
  // delay.
  EXPECT_EQ(backbone.batches(), (std::vector<std::vector<int>>{{1, 2, 3, 4}, {5, 6, 7, 8}, {9}}));
}

TEST(DynamicBatcherTest, ARequestLargerThanTheMaximumRunsAlone) {
  FakeBackbone backbone;
  DynamicBatcher batcher(backbone.executor(), Options(2, absl::Milliseconds(1)));
  ExpectRowsOf(batcher.Run(Request({1, 2, 3, 4, 5})), {1, 2, 3, 4, 5});
  ASSERT_EQ(backbone.batches().size(), 1u);
}

TEST(DynamicBatcherTest, ALoneRequestWaitsAboutTheDelayNotLonger) {
  FakeBackbone backbone;
  DynamicBatcher batcher(backbone.executor(), Options(32, absl::Milliseconds(50)));
  const absl::Time start = absl::Now();
  ExpectRowsOf(batcher.Run(Request({7})), {7});
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(45));
  EXPECT_LT(took, absl::Seconds(2));
  ASSERT_EQ(backbone.batches().size(), 1u);
}

TEST(DynamicBatcherTest, EachCallerGetsItsOwnRowsInItsOwnOrder) {
  FakeBackbone backbone;
  DynamicBatcher batcher(backbone.executor(),
                         Options(8, absl::Milliseconds(1), 1000, /*threads=*/2));
  constexpr int kCallers = 6;
  constexpr int kRequests = 30;
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int i = 0; i < kRequests; ++i) {
        const int tag = 1000 * (c + 1) + i;
        const std::vector<int> tags = i % 3 == 0 ? std::vector<int>{tag, tag} : std::vector{tag};
        ExpectRowsOf(batcher.Run(Request(tags)), tags);
      }
    });
  }
  for (std::thread& t : callers) t.join();
  // In execution order, each caller's requests appear in submission order.
  std::vector<int> last(kCallers, -1);
  size_t most = 0;
  for (const std::vector<int>& batch : backbone.batches()) {
    EXPECT_LE(batch.size(), 8u);
    most = std::max(most, batch.size());
    for (int tag : batch) {
      const int caller = tag / 1000 - 1, index = tag % 1000;
      EXPECT_GE(index, last[caller]);
      last[caller] = index;
    }
  }
  for (int c = 0; c < kCallers; ++c) EXPECT_EQ(last[c], kRequests - 1);
  EXPECT_GT(most, 1u) << "concurrent callers never shared a batch";
}

TEST(DynamicBatcherTest, AFullQueueAnswersResourceExhausted) {
  FakeBackbone backbone(/*hold=*/true);
  DynamicBatcher batcher(backbone.executor(), Options(1, absl::ZeroDuration(), /*limit=*/2));
  std::thread running([&] { ExpectRowsOf(batcher.Run(Request({1})), {1}); });
  backbone.WaitEntered();
  std::thread queued([&] { ExpectRowsOf(batcher.Run(Request({2, 3})), {2, 3}); });
  while (batcher.queued_crops() < 2) absl::SleepFor(absl::Milliseconds(1));
  const absl::StatusOr<BackboneOutput> refused = batcher.Run(Request({4}));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  backbone.Release();
  running.join();
  queued.join();
  // With room again, requests are accepted.
  ExpectRowsOf(batcher.Run(Request({5})), {5});
}

TEST(DynamicBatcherTest, ExpiredAndCancelledRequestsAreDroppedBeforeExecution) {
  FakeBackbone backbone(/*hold=*/true);
  DynamicBatcher batcher(backbone.executor(), Options(1, absl::ZeroDuration()));
  std::thread running([&] { ExpectRowsOf(batcher.Run(Request({1})), {1}); });
  backbone.WaitEntered();

  // The caller gives up at its deadline although the worker is busy.
  const absl::Time start = absl::Now();
  absl::StatusOr<BackboneOutput> late = batcher.Run(Request({2}, start + absl::Milliseconds(50)));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded) << late.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(batcher.queued_crops(), 0);

  // A cancelled caller leaves the queue too.
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(30));
    cancel = true;
  });
  BatchRequest cancellable = Request({3});
  cancellable.cancelled = [&cancel] { return cancel.load(); };
  absl::StatusOr<BackboneOutput> cancelled = batcher.Run(std::move(cancellable));
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled) << cancelled.status();
  canceller.join();

  // A deadline that passes while queued is enforced by the worker as well.
  absl::StatusOr<BackboneOutput> past = batcher.Run(Request({4}, absl::InfinitePast()));
  EXPECT_EQ(past.status().code(), absl::StatusCode::kDeadlineExceeded);

  backbone.Release();
  running.join();
  ExpectRowsOf(batcher.Run(Request({5})), {5});
  for (const std::vector<int>& batch : backbone.batches()) {
    for (int tag : batch) EXPECT_TRUE(tag == 1 || tag == 5) << tag << " ran";
  }
}

TEST(DynamicBatcherTest, ExecutorErrorsReachEveryRequestOfTheBatch) {
  DynamicBatcher batcher(
      [](const std::vector<RgbImage>&) -> absl::StatusOr<BackboneOutput> {
        return absl::InternalError("boom");
      },
      Options(4, absl::Milliseconds(1)));
  EXPECT_EQ(batcher.Run(Request({1})).status().code(), absl::StatusCode::kInternal);
  // An executor answering the wrong row count is an error, not a crash.
  DynamicBatcher short_rows(
      [](const std::vector<RgbImage>&) -> absl::StatusOr<BackboneOutput> {
        return BackboneOutput{};
      },
      Options(4, absl::Milliseconds(1)));
  EXPECT_EQ(short_rows.Run(Request({1, 2})).status().code(), absl::StatusCode::kInternal);
}

TEST(DynamicBatcherTest, AnExecutorThatThrowsFailsItsBatchAndTheBatcherGoesOn) {
  std::atomic<int> calls{0};
  DynamicBatcher batcher(
      [&calls](const std::vector<RgbImage>& crops) -> absl::StatusOr<BackboneOutput> {
        if (++calls == 1) throw std::runtime_error("CUDA out of memory. Tried to allocate 2 GiB");
        if (calls == 2) throw std::logic_error("expected a 4-D tensor");
        BackboneOutput out;
        out.batch = static_cast<int>(crops.size());
        out.probabilities.assign(2 * crops.size(), 1.0f);
        out.features.assign(crops.size(), 1.0f);
        return out;
      },
      Options(4, absl::ZeroDuration()));
  const absl::StatusOr<BackboneOutput> oom = batcher.Run(Request({1}));
  EXPECT_EQ(oom.status().code(), absl::StatusCode::kResourceExhausted) << oom.status();
  const absl::StatusOr<BackboneOutput> bug = batcher.Run(Request({1}));
  EXPECT_EQ(bug.status().code(), absl::StatusCode::kInternal) << bug.status();
  EXPECT_NE(bug.status().message().find("expected a 4-D tensor"), absl::string_view::npos);
  EXPECT_TRUE(batcher.Run(Request({1, 2})).ok());
}

TEST(DynamicBatcherTest, NoCropsNeedNoBatch) {
  FakeBackbone backbone;
  DynamicBatcher batcher(backbone.executor(), Options(4, absl::Seconds(30)));
  absl::StatusOr<BackboneOutput> out = batcher.Run(BatchRequest{});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->batch, 0);
  EXPECT_TRUE(backbone.batches().empty());
}

TEST(DynamicBatcherTest, ShutdownRunsWhatIsQueuedThenRefuses) {
  FakeBackbone backbone(/*hold=*/true);
  DynamicBatcher batcher(backbone.executor(), Options(1, absl::ZeroDuration()));
  std::thread running([&] { ExpectRowsOf(batcher.Run(Request({1})), {1}); });
  backbone.WaitEntered();
  std::thread queued([&] { ExpectRowsOf(batcher.Run(Request({2})), {2}); });
  while (batcher.queued_crops() < 1) absl::SleepFor(absl::Milliseconds(1));
  std::thread shutdown([&] { batcher.Shutdown(); });
  absl::SleepFor(absl::Milliseconds(20));
  backbone.Release();
  shutdown.join();
  running.join();
  queued.join();
  EXPECT_EQ(batcher.Run(Request({3})).status().code(), absl::StatusCode::kUnavailable);
  batcher.Shutdown();  // idempotent
}

}  // namespace
}  // namespace fer
