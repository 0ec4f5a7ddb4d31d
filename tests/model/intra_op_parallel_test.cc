#include "lib/model/intra_op_parallel.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace fer {
namespace {

// Each index of [0, n) in exactly one part, parts contiguous and at least
// `grain` long (but the last), at most IntraOpThreads() of them.
void ExpectCovers(int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
  std::atomic<int> parts{0};
  IntraOpParallelFor(n, grain, [&](int64_t begin, int64_t end) {
    EXPECT_LT(begin, end);
    parts.fetch_add(1);
    for (int64_t i = begin; i < end; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(seen[static_cast<size_t>(i)].load(), 1) << i;
  EXPECT_LE(parts.load(), IntraOpThreads());
  EXPECT_LE(parts.load(), (n + grain - 1) / grain);
}

TEST(IntraOpParallelForTest, CoversTheRangeOnce) {
  at::set_num_threads(3);
  for (int64_t n : {1, 2, 3, 7, 100, 1001}) {
    for (int64_t grain : {1, 2, 64}) ExpectCovers(n, grain);
  }
  IntraOpParallelFor(0, 1, [](int64_t, int64_t) { ADD_FAILURE() << "empty range"; });
}

TEST(IntraOpParallelForTest, SplitsBetweenThreadsAndHonoursOne) {
  at::set_num_threads(2);
  std::vector<std::thread::id> ids(2);
  IntraOpParallelFor(2, 1, [&](int64_t begin, int64_t) {
    ids[begin] = std::this_thread::get_id();
    // Time for the worker to wake and take its part.
    if (begin == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  });
  EXPECT_EQ(ids[0], std::this_thread::get_id());
  EXPECT_NE(ids[1], ids[0]);
  at::set_num_threads(1);
  IntraOpParallelFor(10, 1, [&](int64_t begin, int64_t end) {
    EXPECT_EQ(std::this_thread::get_id(), ids[0]);
    EXPECT_EQ(begin, 0);
    EXPECT_EQ(end, 10);
  });
}

}  // namespace
}  // namespace fer
