#include "lib/kernels/parallel_workers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"

namespace fer::kernels {
namespace {

TEST(ParallelWorkersTest, RunsEveryPartOnceOnSeveralThreads) {
  ParallelWorkers workers;
  for (int parts : {1, 2, 3, 8}) {
    std::vector<std::atomic<int>> runs(parts);
    std::vector<std::thread::id> ids(parts);
    workers.Run(parts, [&](int part) {
      runs[part].fetch_add(1);
      ids[part] = std::this_thread::get_id();
      // Time for the workers to start and take their parts.
      if (part == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    });
    for (int p = 0; p < parts; ++p) EXPECT_EQ(runs[p].load(), 1) << parts << " parts, part " << p;
    EXPECT_EQ(ids[0], std::this_thread::get_id());  // part 0 on the caller
    for (int p = 1; p < parts; ++p) EXPECT_NE(ids[p], ids[0]);
  }
  EXPECT_EQ(workers.workers(), 7);  // started as needed, kept
}

TEST(ParallelWorkersTest, ManyLoopsInARowAndAfterASleep) {
  // Workers spin between loops, then sleep: both hand-overs must work.
  ParallelWorkers workers;
  std::atomic<long> sum{0};
  for (int i = 0; i < 2000; ++i) workers.Run(2, [&](int part) { sum.fetch_add(part + 1); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the spin
  workers.Run(2, [&](int part) { sum.fetch_add(part + 1); });
  EXPECT_EQ(sum.load(), 2001 * 3);
}

TEST(ParallelWorkersTest, TheCallerRunsThePartsOfWorkersNotYetAwake) {
  // After a pause the workers sleep; a short loop then runs on its caller
  // instead of waiting for one to wake. Waiting, part 1 would run on its
  // worker every time.
  ParallelWorkers workers;
  int on_caller = 0;
  for (int trial = 0; trial < 40; ++trial) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin
    std::vector<std::thread::id> ids(2);
    workers.Run(2, [&](int part) { ids[part] = std::this_thread::get_id(); });
    on_caller += ids[1] == std::this_thread::get_id();
  }
  // Mostly on the caller; the woken worker may still win the race when the
  // scheduler hands it the caller's core (under load about a third of the
  // time).
  EXPECT_GE(on_caller, 5);
}

TEST(ParallelWorkersTest, LateWorkersNeverRunAPartTwiceOrOfAnotherLoop) {
  // Loops of varying length with pauses between them, so that workers
  // wake late, find their part taken, and meet the next loop.
  ParallelWorkers workers;
  std::vector<std::vector<std::atomic<int>>> runs;
  for (int loop = 0; loop < 400; ++loop) runs.emplace_back(3);
  for (int loop = 0; loop < 400; ++loop) {
    if (loop % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300 + loop));
    std::vector<std::atomic<int>>& mine = runs[loop];
    workers.Run(3, [&](int part) {
      mine[part].fetch_add(1);
      if (loop % 3 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    });
    for (int part = 0; part < 3; ++part) ASSERT_EQ(mine[part].load(), 1) << loop << " " << part;
  }
  for (int loop = 0; loop < 400; ++loop) {
    for (int part = 0; part < 3; ++part) EXPECT_EQ(runs[loop][part].load(), 1);
  }
}

TEST(ParallelWorkersTest, ALoopInsideAPartRunsOnItsThread) {
  ParallelWorkers workers;
  std::atomic<int> inner{0};
  workers.Run(2, [&](int) {
    const std::thread::id outer = std::this_thread::get_id();
    workers.Run(3, [&](int) {
      EXPECT_EQ(std::this_thread::get_id(), outer);
      inner.fetch_add(1);
    });
  });
  EXPECT_EQ(inner.load(), 6);
}

TEST(ParallelWorkersTest, ConcurrentCallersEachGetEveryPartOnce) {
  // One loop at a time on the workers; the others run on their callers.
  ParallelWorkers workers;
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        std::vector<std::atomic<int>> runs(3);
        workers.Run(3, [&](int part) { runs[part].fetch_add(1); });
        for (auto& r : runs) wrong += r.load() != 1;
      }
    });
  }
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ParallelWorkersTest, OverlappingCallersShareTheCoresByCaller) {
  ParallelWorkers workers(std::chrono::milliseconds(200));
  auto parts_on_caller = [&] {
    std::vector<std::thread::id> ids(2);
    workers.Run(2, [&](int part) {
      ids[part] = std::this_thread::get_id();
      // Time for a worker to wake and take its part.
      if (part == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    });
    return ids[0] == std::this_thread::get_id() && ids[1] == ids[0];
  };
  EXPECT_FALSE(parts_on_caller());  // alone: on the workers too
  // A second caller while the first is inside its loop.
  absl::Notification entered, release;
  std::thread first([&] {
    workers.Run(2, [&](int part) {
      if (part == 0) {
        entered.Notify();
        release.WaitForNotification();
      }
    });
  });
  entered.WaitForNotification();
  EXPECT_TRUE(parts_on_caller());
  release.Notify();
  first.join();
  EXPECT_TRUE(parts_on_caller());  // still within the window
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(parts_on_caller());  // alone again
}

TEST(ParallelWorkersTest, SharedIsOneSet) {
  EXPECT_EQ(&ParallelWorkers::Shared(), &ParallelWorkers::Shared());
}

}  // namespace
}  // namespace fer::kernels
