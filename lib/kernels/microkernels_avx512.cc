// The kernels for AVX-512F (compiled with -mavx512f -mfma; run only where
// IsaSupported(Isa::kAvx512)): 16-float vectors, 12 x 32 multiply tiles (24
// accumulators of the 32 registers).
#if defined(FERSERVE_X86_KERNELS)
#define FER_KERNEL_NAMESPACE avx512
#define FER_KERNEL_LANES 16
#define FER_KERNEL_PANELS 2
#define FER_KERNEL_ROWS 12
#define FER_KERNEL_TABLE Avx512Kernels
#include "lib/kernels/microkernels_impl.inc"
#endif
