#ifndef FERSERVE_LIB_MODEL_INTRA_OP_PARALLEL_H_
#define FERSERVE_LIB_MODEL_INTRA_OP_PARALLEL_H_

#include <cstdint>
#include <functional>

#include "lib/kernels/conv_program.h"

namespace fer {

// LibTorch's intra-op thread count (ConfigureTorchThreads), at least 1.
int IntraOpThreads();

// Runs body(begin, end) on contiguous parts of [0, n), at least `grain`
// long, on LibTorch's intra-op threads (the caller's thread among them), and
// returns when all are done. Inside another parallel region it runs
// serially.
void IntraOpParallelFor(int64_t n, int64_t grain,
                        const std::function<void(int64_t, int64_t)>& body);

// A ConvProgram::RowSplitter that splits each layer's rows between the
// intra-op threads.
kernels::ConvProgram::RowSplitter IntraOpRowSplitter();

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_INTRA_OP_PARALLEL_H_
