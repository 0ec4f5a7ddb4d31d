#include "lib/model/torch_runtime.h"

#include <malloc.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/kernels/isa.h"

namespace fer {

void ConfigureTorchThreads(int intra_op_threads) {
  // Debian's LibTorch starts with a single intra-op thread; 0 means one per core.
  const int threads = intra_op_threads > 0
                          ? intra_op_threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
}

void ConfigureAllocatorForInference() {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

bool CudaAvailable() { return torch::cuda::is_available(); }

double MeasureSgemmGflops(int n, int reps) {
  torch::NoGradGuard no_grad;
  const torch::Tensor a = torch::rand({n, n});
  const torch::Tensor b = torch::rand({n, n});
  torch::Tensor c = torch::mm(a, b);  // warm-up
  std::vector<double> gflops;
  for (int r = 0; r < std::max(1, reps); ++r) {
    const auto start = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    gflops.push_back(2.0 * n * n * n / s / 1e9);
  }
  std::sort(gflops.begin(), gflops.end());
  return gflops[gflops.size() / 2];
}

std::string TorchRuntimeSummary() {
  return absl::StrCat("LibTorch ", TORCH_VERSION, ", intra-op threads ", at::get_num_threads(),
                      ", CUDA ", CudaAvailable() ? "available" : "not available",
                      ", fused CPU kernels for ", kernels::IsaName(kernels::BestIsa()));
}

}  // namespace fer
