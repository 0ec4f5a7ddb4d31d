#ifndef FERSERVE_LIB_MODEL_INTRA_OP_PARALLEL_H_
#define FERSERVE_LIB_MODEL_INTRA_OP_PARALLEL_H_

#include <cstdint>
#include <functional>

#include "lib/kernels/conv_program.h"

namespace fer {

// LibTorch's intra-op thread count (ConfigureTorchThreads), at least 1.
int IntraOpThreads();

// Runs body(begin, end) on contiguous parts of [0, n), at least `grain`
// long, one per intra-op thread at most (the caller's thread among them, the
// others kernels::ParallelWorkers::Shared()), and returns when all are done.
// Inside another part, or while another thread's loop runs, it runs on the
// caller alone.
void IntraOpParallelFor(int64_t n, int64_t grain,
                        const std::function<void(int64_t, int64_t)>& body);

// A ConvProgram::RowSplitter that splits each layer's rows between the
// intra-op threads.
kernels::ConvProgram::RowSplitter IntraOpRowSplitter();

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_INTRA_OP_PARALLEL_H_
