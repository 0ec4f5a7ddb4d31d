#ifndef FERSERVE_LIB_MODEL_BLAS_KERNELS_H_
#define FERSERVE_LIB_MODEL_BLAS_KERNELS_H_

#include <string>

namespace fer {

// LibTorch's matrix products on the CPU run on OpenBLAS (Debian's LibTorch),
// which picks its kernels by CPU model when it loads. On a model newer than
// the library it falls back to its SSE3 "Prescott" kernels: Debian
// bookworm's OpenBLAS 0.3.21 does so on Emerald Rapids (family 6, model
// 207), where a 1024^2 sgemm then ran at 36 GFLOP/s instead of 175 with the
// AVX-512 kernels. That slows everything on LibTorch's operators (the
// TorchScript backbone, enrollment's adaptation, --cpu_kernels=libtorch).
//
// Where the process's OpenBLAS runs kernels for an older instruction set
// than the CPU has and OPENBLAS_CORETYPE is not set, switches it to the
// kernels for the CPU's set (SkylakeX for AVX-512, Haswell for AVX2 + FMA)
// and returns a line saying so; otherwise changes nothing and returns "".
// Call first thing in main, before any matrix product.
std::string MatchBlasKernelsToCpu();

// The kernels the process's OpenBLAS runs ("OpenBLAS SkylakeX"), or "" when
// the BLAS is not OpenBLAS.
std::string BlasKernelsName();

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_BLAS_KERNELS_H_
