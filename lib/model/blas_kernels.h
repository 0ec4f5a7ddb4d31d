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
// and returns a line saying so. Where OPENBLAS_CORETYPE chose those older
// kernels, leaves them (the operator's choice) and returns a line saying
// what they cost (some base images set it: OPENBLAS_CORETYPE=Haswell on an
// AMD EPYC with AVX-512 ran a 1024^2 sgemm at 195 GFLOP/s instead of 351,
// and a user's translator in 72 us per face instead of 15). Otherwise
// changes nothing and returns "". Call first thing in main, before any
// matrix product.
std::string MatchBlasKernelsToCpu();

// The kernels the process's OpenBLAS runs ("OpenBLAS SkylakeX"), or "" when
// the BLAS is not OpenBLAS.
std::string BlasKernelsName();

// OpenBLAS's pthreads build (Debian's libopenblas0-pthread) runs each matrix
// product on threads of its own, which spin for a while after it, beside
// LibTorch's OpenMP intra-op threads, which spin after their own parallel
// regions: two pools taking turns on the same cores. On Debian 13's and
// unstable's LibTorch (2.6, 2.14), whose convolutions run on OpenMP, the
// backbone on LibTorch's operators ran 19 faces/s at batch 1 instead of 571
// and the SSD detector 116 ms per frame instead of 51. LibTorch itself keeps
// MKL at one thread for this reason; this does the same for OpenBLAS: where
// the process's OpenBLAS is the pthreads build, LibTorch's intra-op threads
// are OpenMP's and neither OPENBLAS_NUM_THREADS nor GOTO_NUM_THREADS is
// set, OpenBLAS runs each product on its caller's thread (LibTorch's
// threads still split a layer's work). Returns whether it changed anything.
bool MatchBlasThreadsToTorch();

// Threads OpenBLAS runs a product on, or 0 when the BLAS is not OpenBLAS.
int BlasThreads();

// Sets them and returns the count before, or 0 (nothing set) when the BLAS
// is not OpenBLAS.
int SetBlasThreads(int threads);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_BLAS_KERNELS_H_
