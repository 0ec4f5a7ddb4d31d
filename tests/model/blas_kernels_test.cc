#include "lib/model/blas_kernels.h"

#include <ATen/Config.h>
#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include "lib/kernels/isa.h"

namespace fer {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Makes OpenBLAS run `core`'s kernels, as it does where it does not
// recognise the CPU model.
void ForceOpenBlasCore(const char* core) {
  auto quit = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
  auto init = reinterpret_cast<void (*)()>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
  ASSERT_NE(quit, nullptr);
  ASSERT_NE(init, nullptr);
  setenv("OPENBLAS_CORETYPE", core, 1);
  quit();
  init();
  unsetenv("OPENBLAS_CORETYPE");
}

TEST(BlasKernelsTest, UnrecognisedCpusGetTheKernelsOfTheirInstructionSet) {
  // Debian's LibTorch runs on OpenBLAS built for every x86-64 CPU (the
  // official LibTorch archives on MKL instead).
  if (BlasKernelsName().empty()) GTEST_SKIP() << "LibTorch's BLAS here is not OpenBLAS";
  ASSERT_THAT(BlasKernelsName(), StartsWith("OpenBLAS "));
  if (!kernels::IsaSupported(kernels::Isa::kAvx2))
    GTEST_SKIP() << "no CPU here has kernels newer than OpenBLAS's fallback";
  ForceOpenBlasCore("Prescott");
  ASSERT_EQ(BlasKernelsName(), "OpenBLAS Prescott");
  const std::string done = MatchBlasKernelsToCpu();
  EXPECT_THAT(done, HasSubstr("chose its Prescott kernels"));
  const std::string now = BlasKernelsName();
  EXPECT_TRUE(now == "OpenBLAS SkylakeX" || now == "OpenBLAS Haswell") << now;
  EXPECT_THAT(done, HasSubstr(now.substr(now.find(' ') + 1)));
  // Matrix products run, and right, on the new kernels: against sums of
  // products that do not go through the BLAS.
  torch::manual_seed(1);
  const torch::Tensor a = torch::rand({70, 90}), b = torch::rand({90, 110});
  const torch::Tensor want = (a.unsqueeze(2) * b.unsqueeze(0)).sum(1);
  EXPECT_TRUE(torch::allclose(torch::mm(a, b), want, 1e-5, 1e-4));
  // A second call finds nothing to change.
  unsetenv("OPENBLAS_CORETYPE");
  EXPECT_EQ(MatchBlasKernelsToCpu(), "");
  EXPECT_EQ(BlasKernelsName(), now);
}

TEST(BlasKernelsTest, AnOperatorsChoiceIsLeftAlone) {
  if (BlasKernelsName().empty()) GTEST_SKIP() << "LibTorch's BLAS here is not OpenBLAS";
  if (!kernels::IsaSupported(kernels::Isa::kAvx2))
    GTEST_SKIP() << "no CPU here has kernels newer than OpenBLAS's fallback";
  ForceOpenBlasCore("Prescott");
  setenv("OPENBLAS_CORETYPE", "Prescott", 1);
  // Kept, and said what it costs.
  const std::string kept = MatchBlasKernelsToCpu();
  EXPECT_THAT(kept, StartsWith("OPENBLAS_CORETYPE=Prescott keeps OpenBLAS on its Prescott "
                               "kernels (older than AVX2) on a CPU with AVX"));
  EXPECT_THAT(kept, HasSubstr("run slower than they could"));
  EXPECT_EQ(BlasKernelsName(), "OpenBLAS Prescott");
  unsetenv("OPENBLAS_CORETYPE");
  EXPECT_THAT(MatchBlasKernelsToCpu(), HasSubstr("switched to"));
  // A choice that matches the CPU is not news.
  const std::string matching = BlasKernelsName().substr(std::string("OpenBLAS ").size());
  setenv("OPENBLAS_CORETYPE", matching.c_str(), 1);
  EXPECT_EQ(MatchBlasKernelsToCpu(), "");
  unsetenv("OPENBLAS_CORETYPE");
}

TEST(BlasKernelsTest, OpenBlasThreadsGiveWayToLibTorchsOpenMpThreads) {
  // Debian's LibTorch: OpenBLAS's pthreads build (libopenblas0-pthread, as
  // scripts/setup installs) under OpenMP intra-op threads.
  if (BlasThreads() == 0 || !AT_PARALLEL_OPENMP) {
    GTEST_SKIP() << "LibTorch here is not on OpenBLAS and OpenMP";
  }
  const int before = SetBlasThreads(2);
  EXPECT_TRUE(MatchBlasThreadsToTorch());
  EXPECT_EQ(BlasThreads(), 1);
  EXPECT_FALSE(MatchBlasThreadsToTorch());  // nothing left to change
  // The operator's choice stands.
  SetBlasThreads(2);
  setenv("OPENBLAS_NUM_THREADS", "2", 1);
  EXPECT_FALSE(MatchBlasThreadsToTorch());
  EXPECT_EQ(BlasThreads(), 2);
  unsetenv("OPENBLAS_NUM_THREADS");
  // Products on the caller's thread are still right.
  EXPECT_TRUE(MatchBlasThreadsToTorch());
  torch::manual_seed(2);
  const torch::Tensor a = torch::rand({300, 200}), b = torch::rand({200, 250});
  const torch::Tensor want = (a.unsqueeze(2) * b.unsqueeze(0)).sum(1);
  EXPECT_TRUE(torch::allclose(torch::mm(a, b), want, 1e-5, 1e-4));
  SetBlasThreads(before);
}

}  // namespace
}  // namespace fer
