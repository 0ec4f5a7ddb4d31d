#include "lib/model/torch_runtime.h"

#include <malloc.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/kernels/isa.h"
#include "lib/metrics/sample_quantile.h"
#include "lib/model/blas_kernels.h"
#include "lib/model/torch_device.h"

namespace fer {
namespace {

// A thread-count flag's value: itself when positive, else one per core.
int ThreadsOrOnePerCore(int threads) {
  return threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

void ConfigureTorchThreads(int intra_op_threads) {
  // Debian's LibTorch starts with a single intra-op thread.
  at::set_num_threads(ThreadsOrOnePerCore(intra_op_threads));
  MatchBlasThreadsToTorch();
}

void ConfigureAllocatorForInference(int threads) {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX, ThreadsOrOnePerCore(threads));
  }
}

bool CudaAvailable() { return torch::cuda::is_available(); }

absl::StatusOr<double> MeasureSgemmGflops(const ModelDevice& device, int n, int reps) {
  absl::StatusOr<torch::Device> where = ToTorchDevice(device);
  if (!where.ok()) return where.status();
  RequireFullFloat32(*where);
  // Waits for the GPU's queued work; nothing to wait for on the CPU.
  const auto finish = [&] {
    if (where->is_cuda()) torch::cuda::synchronize(where->index());
  };
  torch::NoGradGuard no_grad;
  // The machine's peak: OpenBLAS on as many threads as LibTorch has, though
  // the models call it one thread each (MatchBlasThreadsToTorch).
  const int blas_threads = where->is_cpu() ? SetBlasThreads(at::get_num_threads()) : 0;
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(*where);
  const torch::Tensor a = torch::rand({n, n}, options);
  const torch::Tensor b = torch::rand({n, n}, options);
  torch::Tensor c = torch::mm(a, b);  // warm-up
  finish();
  std::vector<double> gflops;
  for (int r = 0; r < std::max(1, reps); ++r) {
    const auto start = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    finish();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    gflops.push_back(2.0 * n * n * n / s / 1e9);
  }
  if (blas_threads > 0) SetBlasThreads(blas_threads);
  return Median(std::move(gflops));
}

std::string TorchRuntimeSummary() {
  const std::string blas = BlasKernelsName();
  const int blas_threads = BlasThreads();
  return absl::StrCat("LibTorch ", TORCH_VERSION, blas.empty() ? "" : " on ", blas,
                      blas_threads == 1  ? " (one thread per product)"
                      : blas_threads > 1 ? absl::StrCat(" (", blas_threads, " threads)")
                                         : "",
                      ", intra-op threads ", at::get_num_threads(), ", CUDA ",
                      CudaAvailable() ? "available" : "not available", ", fused CPU kernels for ",
                      kernels::IsaName(kernels::BestIsa()));
}

}  // namespace fer
