#ifndef FERSERVE_LIB_MODEL_TORCH_RUNTIME_H_
#define FERSERVE_LIB_MODEL_TORCH_RUNTIME_H_

#include <string>

namespace fer {

// Sets LibTorch's intra-op thread count; 0 keeps LibTorch's default (all
// cores).
void ConfigureTorchThreads(int intra_op_threads);

// Whether this LibTorch build can run on CUDA and a device is present.
bool CudaAvailable();

// One line describing the LibTorch build and thread settings.
std::string TorchRuntimeSummary();

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_TORCH_RUNTIME_H_
