#include "lib/model/intra_op_parallel.h"

#include <ATen/Parallel.h>
#include <omp.h>

#include <algorithm>

namespace fer {

int IntraOpThreads() { return std::max(1, at::get_num_threads()); }

void IntraOpParallelFor(int64_t n, int64_t grain,
                        const std::function<void(int64_t, int64_t)>& body) {
  // at::parallel_for is an OpenMP region compiled here, so it runs on the
  // OpenMP runtime this library links. LibTorch sets the thread count in its
  // own runtime, which builds that bundle a private copy (the official
  // archives) do not share: carry it over, per calling thread as OpenMP keeps
  // it.
  const int threads = IntraOpThreads();
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
  at::parallel_for(0, n, std::max<int64_t>(grain, 1), body);
}

kernels::ConvProgram::RowSplitter IntraOpRowSplitter() {
  return [](int rows, const std::function<void(int, int)>& body) {
    IntraOpParallelFor(rows, 1, [&](int64_t begin, int64_t end) {
      body(static_cast<int>(begin), static_cast<int>(end));
    });
  };
}

}  // namespace fer
