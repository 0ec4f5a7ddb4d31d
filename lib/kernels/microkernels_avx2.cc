// The kernels for AVX2 + FMA (compiled with -mavx2 -mfma; run only where
// IsaSupported(Isa::kAvx2)): 8-float vectors, 6 x 16 multiply tiles (12
// accumulators of the 16 registers).
#if defined(FERSERVE_X86_KERNELS)
#define FER_KERNEL_NAMESPACE avx2
#define FER_KERNEL_LANES 8
#define FER_KERNEL_PANELS 1
#define FER_KERNEL_ROWS 6
#define FER_KERNEL_TABLE Avx2Kernels
#include "lib/kernels/microkernels_impl.inc"
#endif
