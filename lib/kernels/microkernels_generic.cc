// The kernels for any CPU: 4-float vectors (SSE2 on x86-64, NEON on ARM).
#define FER_KERNEL_NAMESPACE generic
#define FER_KERNEL_LANES 4
#define FER_KERNEL_PANELS 1
#define FER_KERNEL_ROWS 3
#define FER_KERNEL_TABLE GenericKernels
#include "lib/kernels/microkernels_impl.inc"
