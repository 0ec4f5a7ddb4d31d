#include "lib/model/blas_kernels.h"

#include <ATen/Config.h>
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lib/kernels/isa.h"

namespace fer {
namespace {

// OpenBLAS's own entry points, looked up at run time: the BLAS may be
// another library, or an OpenBLAS built for one CPU only (no dynamic_*).
struct OpenBlas {
  char* (*corename)() = nullptr;
  void (*dynamic_init)() = nullptr;
  void (*dynamic_quit)() = nullptr;
  int (*get_parallel)() = nullptr;  // 0 sequential, 1 pthreads, 2 OpenMP
  int (*get_num_threads)() = nullptr;
  void (*set_num_threads)(int) = nullptr;

  static OpenBlas Find() {
    OpenBlas blas;
    blas.corename = reinterpret_cast<char* (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    blas.dynamic_init = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
    blas.dynamic_quit = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
    blas.get_parallel = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_parallel"));
    blas.get_num_threads =
        reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    blas.set_num_threads =
        reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    return blas;
  }
};

// Instruction set levels: 0 older than AVX2, 1 AVX2 + FMA, 2 AVX-512 (F,
// BW, DQ and VL, which OpenBLAS's SkylakeX kernels use; the fused kernels'
// kAvx512 needs only F).
int CpuLevel() {
  if (!kernels::IsaSupported(kernels::Isa::kAvx2)) return 0;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
    return 2;
  }
#endif
  return 1;
}

// The level of an OpenBLAS x86-64 core name.
int KernelLevel(const char* core) {
  for (const char* name : {"SkylakeX", "Cooperlake", "SapphireRapids"}) {
    if (strcasecmp(core, name) == 0) return 2;
  }
  for (const char* name : {"Haswell", "Zen", "Excavator"}) {
    if (strcasecmp(core, name) == 0) return 1;
  }
  return 0;
}

const char* LevelName(int level) {
  return level == 2 ? "AVX-512" : level == 1 ? "AVX2" : "older than AVX2";
}

}  // namespace

std::string MatchBlasKernelsToCpu() {
  const OpenBlas blas = OpenBlas::Find();
  if (blas.corename == nullptr || blas.dynamic_init == nullptr || blas.dynamic_quit == nullptr) {
    return "";
  }
  const std::string detected = blas.corename();
  const int cpu = CpuLevel();
  const int kernels = KernelLevel(detected.c_str());
  if (kernels >= cpu) return "";
  if (const char* chosen = std::getenv("OPENBLAS_CORETYPE"); chosen != nullptr) {
    return absl::StrCat("OPENBLAS_CORETYPE=", chosen, " keeps OpenBLAS on its ", detected,
                        " kernels (", LevelName(kernels), ") on a CPU with ", LevelName(cpu),
                        ": LibTorch's operators (users' translators, adaptation, a TorchScript "
                        "backbone) run slower than they could; unset it for ",
                        LevelName(cpu), " kernels");
  }
  const char* wanted = cpu == 2 ? "SkylakeX" : "Haswell";
  // What gotoblas_dynamic_init reads to choose the kernel table; it keeps
  // the table it has until told to quit.
  setenv("OPENBLAS_CORETYPE", wanted, /*overwrite=*/0);
  blas.dynamic_quit();
  blas.dynamic_init();
  return absl::StrCat("OpenBLAS did not recognise this CPU and chose its ", detected,
                      " kernels; switched to ", blas.corename(), " (", LevelName(cpu), ")");
}

std::string BlasKernelsName() {
  const OpenBlas blas = OpenBlas::Find();
  return blas.corename != nullptr ? absl::StrCat("OpenBLAS ", blas.corename()) : "";
}

bool MatchBlasThreadsToTorch() {
  const OpenBlas blas = OpenBlas::Find();
  if (!AT_PARALLEL_OPENMP || blas.get_parallel == nullptr || blas.get_num_threads == nullptr ||
      blas.set_num_threads == nullptr || blas.get_parallel() != 1 ||
      std::getenv("OPENBLAS_NUM_THREADS") != nullptr ||
      std::getenv("GOTO_NUM_THREADS") != nullptr || blas.get_num_threads() == 1) {
    return false;
  }
  blas.set_num_threads(1);
  return true;
}

int BlasThreads() {
  const OpenBlas blas = OpenBlas::Find();
  return blas.get_num_threads != nullptr ? blas.get_num_threads() : 0;
}

int SetBlasThreads(int threads) {
  const OpenBlas blas = OpenBlas::Find();
  if (blas.get_num_threads == nullptr || blas.set_num_threads == nullptr) return 0;
  const int before = blas.get_num_threads();
  blas.set_num_threads(threads);
  return before;
}

}  // namespace fer
