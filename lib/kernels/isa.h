#ifndef FERSERVE_LIB_KERNELS_ISA_H_
#define FERSERVE_LIB_KERNELS_ISA_H_

#include <vector>

namespace fer::kernels {

// The instruction sets the CPU kernels are compiled for. Each kernel exists
// once per set; the best one the CPU supports runs unless a caller asks for
// another (tests compare them).
enum class Isa {
  kGeneric,  // portable C++ vectors (SSE2 on x86-64, NEON on ARM)
  kAvx2,     // AVX2 + FMA, 8 floats per vector
  kAvx512,   // AVX-512F, 16 floats per vector
};

// Whether this build has kernels for `isa` and this CPU can run them.
bool IsaSupported(Isa isa);

// The fastest supported set, at most the one named by the environment
// variable FERSERVE_MAX_CPU_ISA ("avx512", "avx2" or "generic") when it is
// set (as oneDNN's ONEDNN_MAX_CPU_ISA: to measure or rule out a set). Read
// once.
Isa BestIsa();

// The fastest supported set at most `cap` (an IsaName; null or unknown: no
// cap).
Isa BestIsaUpTo(const char* cap);

// Every supported set, generic first.
std::vector<Isa> SupportedIsas();

// "generic", "avx2" or "avx512".
const char* IsaName(Isa isa);

}  // namespace fer::kernels

#endif  // FERSERVE_LIB_KERNELS_ISA_H_
