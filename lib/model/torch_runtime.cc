#include "lib/model/torch_runtime.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace fer {

void ConfigureTorchThreads(int intra_op_threads) {
  if (intra_op_threads > 0) at::set_num_threads(intra_op_threads);
}

bool CudaAvailable() { return torch::cuda::is_available(); }

std::string TorchRuntimeSummary() {
  return absl::StrCat("LibTorch ", TORCH_VERSION, ", intra-op threads ", at::get_num_threads(),
                      ", CUDA ", CudaAvailable() ? "available" : "not available");
}

}  // namespace fer
