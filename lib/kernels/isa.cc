#include "lib/kernels/isa.h"

#include <cstdlib>
#include <cstring>

namespace fer::kernels {

bool IsaSupported(Isa isa) {
  switch (isa) {
    case Isa::kGeneric:
      return true;
#if defined(FERSERVE_X86_KERNELS)
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512:
      return __builtin_cpu_supports("avx512f");
#else
    case Isa::kAvx2:
    case Isa::kAvx512:
      return false;
#endif
  }
  return false;
}

Isa BestIsaUpTo(const char* cap) {
  Isa best = Isa::kGeneric;
  for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) best = isa;
    if (cap != nullptr && std::strcmp(cap, IsaName(isa)) == 0) break;
  }
  return best;
}

Isa BestIsa() {
  static const Isa best = BestIsaUpTo(std::getenv("FERSERVE_MAX_CPU_ISA"));
  return best;
}

std::vector<Isa> SupportedIsas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512}) {
    if (IsaSupported(isa)) isas.push_back(isa);
  }
  return isas;
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kGeneric:
      return "generic";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
  }
  return "unknown";
}

}  // namespace fer::kernels
