#include "lib/model/torch_runtime.h"

#include <ATen/Config.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "lib/model/blas_kernels.h"

namespace fer {
namespace {

using ::testing::HasSubstr;

TEST(TorchRuntimeTest, SgemmThroughputOnTheCpuIsAPlausibleRate) {
  ConfigureTorchThreads(1);
  absl::StatusOr<double> gflops = MeasureSgemmGflops(ModelDevice{"cpu"}, 256, 3);
  ASSERT_TRUE(gflops.ok()) << gflops.status();
  // One core of any machine this runs on does between a tenth of a GFLOP/s
  // and a few hundred: a unit or timing mistake lands far outside.
  EXPECT_TRUE(std::isfinite(*gflops));
  EXPECT_GT(*gflops, 0.1);
  EXPECT_LT(*gflops, 1000.0);
  ConfigureTorchThreads(0);
}

TEST(TorchRuntimeTest, SgemmOnAnUnusableDeviceIsAClearError) {
  EXPECT_EQ(MeasureSgemmGflops(ModelDevice{"tpu"}, 64, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<double> cuda = MeasureSgemmGflops(ModelDevice{"cuda"}, 1024, 3);
  if (torch::cuda::is_available()) {
    ASSERT_TRUE(cuda.ok()) << cuda.status();
    EXPECT_GT(*cuda, 1.0);
  } else {
    EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(cuda.status().message(), HasSubstr("CUDA"));
  }
}

TEST(TorchRuntimeTest, ThreadsFollowTheFlagAndTheSummarySaysSo) {
  ConfigureTorchThreads(2);
  EXPECT_EQ(at::get_num_threads(), 2);
  EXPECT_THAT(TorchRuntimeSummary(), HasSubstr("intra-op threads 2"));
  EXPECT_THAT(TorchRuntimeSummary(), HasSubstr(TORCH_VERSION));
  ConfigureTorchThreads(0);
}

// Debian's LibTorch runs on OpenBLAS's pthreads build (scripts/setup
// installs libopenblas0-pthread) with OpenMP intra-op threads.
TEST(TorchRuntimeTest, OpenBlasRunsOneThreadPerProductBesideLibTorchsThreads) {
  if (BlasThreads() == 0 || !AT_PARALLEL_OPENMP) {
    GTEST_SKIP() << "LibTorch here is not on OpenBLAS and OpenMP";
  }
  SetBlasThreads(2);
  ConfigureTorchThreads(2);
  EXPECT_EQ(BlasThreads(), 1);
  EXPECT_THAT(TorchRuntimeSummary(), HasSubstr("(one thread per product), intra-op threads 2"));
  // The machine's peak is measured on all threads, and the setting restored.
  ASSERT_TRUE(MeasureSgemmGflops(ModelDevice{"cpu"}, 128, 1).ok());
  EXPECT_EQ(BlasThreads(), 1);
  ConfigureTorchThreads(0);
}

}  // namespace
}  // namespace fer
