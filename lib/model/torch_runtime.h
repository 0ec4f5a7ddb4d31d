#ifndef FERSERVE_LIB_MODEL_TORCH_RUNTIME_H_
#define FERSERVE_LIB_MODEL_TORCH_RUNTIME_H_

#include <string>

#include "absl/status/statusor.h"
#include "lib/model/face_types.h"

namespace fer {

// Sets LibTorch's intra-op thread count; 0 means one per hardware thread.
// OpenBLAS then runs each product on its caller's thread where its own
// threads would compete with LibTorch's (MatchBlasThreadsToTorch).
void ConfigureTorchThreads(int intra_op_threads);

// Keeps freed LibTorch activation buffers (up to 32 MiB each) in the heap
// instead of returning them to the OS after every layer: on virtual machines
// that reclaim freed pages, re-faulting them dominated inference time
// (a depthwise conv measured 182 ms with glibc's defaults, 4.6 ms with
// this). Costs resident memory equal to the largest working set of each
// heap, so it also bounds the heaps to one per compute thread (`threads`;
// 0: one per core). glibc gives threads heaps of their own, up to 8 per
// core, and the server runs a thread per stream: under mixed load
// (adaptations, translator loads and enrollments beside streams) glibc's
// bound let scripts/soak's server grow by 120 MiB in 210 s; one heap per
// core kept a 3-minute run within 416 to 444 MiB, at the same frames/s
// (README, Soak).
// MALLOC_ARENA_MAX in the environment overrides that bound. Call once,
// before loading models and before starting threads.
void ConfigureAllocatorForInference(int threads);

// Whether this LibTorch build can run on CUDA and a device is present.
bool CudaAvailable();

// Median single-precision matrix-multiply throughput (n x n by n x n) in
// GFLOP/s over `reps` runs on `device`: the practical compute peak for dense
// layers there. On the CPU with the current thread settings; on a GPU in
// full float32 (no TF32, as the networks run there), each product waited
// for; OpenBLAS on as many threads as LibTorch's intra-op threads meanwhile. The errors of
// ToTorchDevice for a device that cannot be used.
absl::StatusOr<double> MeasureSgemmGflops(const ModelDevice& device, int n, int reps);

// One line describing the LibTorch build and its BLAS kernels, thread
// settings and the instruction set of the fused CPU kernels.
std::string TorchRuntimeSummary();

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_TORCH_RUNTIME_H_
