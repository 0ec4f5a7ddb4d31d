#include "lib/model/intra_op_parallel.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "lib/kernels/parallel_workers.h"

namespace fer {

int IntraOpThreads() { return std::max(1, at::get_num_threads()); }

void IntraOpParallelFor(int64_t n, int64_t grain,
                        const std::function<void(int64_t, int64_t)>& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int parts = static_cast<int>(std::min<int64_t>(IntraOpThreads(), (n + grain - 1) / grain));
  if (parts <= 1) {
    body(0, n);
    return;
  }
  kernels::ParallelWorkers::Shared().Run(parts, [&](int part) {
    const int64_t begin = n * part / parts, end = n * (part + 1) / parts;
    if (begin < end) body(begin, end);
  });
}

kernels::ConvProgram::RowSplitter IntraOpRowSplitter() {
  return [](int rows, const std::function<void(int, int)>& body) {
    IntraOpParallelFor(rows, 1, [&](int64_t begin, int64_t end) {
      body(static_cast<int>(begin), static_cast<int>(end));
    });
  };
}

}  // namespace fer
