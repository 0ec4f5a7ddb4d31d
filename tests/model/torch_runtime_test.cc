#include "lib/model/torch_runtime.h"

#include <ATen/Config.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

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

// How many heaps (arenas) glibc's allocator has, from malloc_info.
int Heaps() {
  char* text = nullptr;
  size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  malloc_info(0, out);
  std::fclose(out);
  const std::string info(text, size);
  std::free(text);
  int heaps = 0;
  for (size_t at = info.find("<heap nr="); at != std::string::npos;
       at = info.find("<heap nr=", at + 1)) {
    ++heaps;
  }
  return heaps;
}

// Threads allocating at once share the heaps ConfigureAllocatorForInference
// allows. glibc adds a heap when a thread finds the heaps it tries busy, up
// to 8 per core: 16 threads allocating and freeing (beyond the per-thread
// cache's sizes) made 5 to 9 of them on 2 cores.
TEST(TorchRuntimeTest, ThreadsShareAHeapPerComputeThread) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator has heaps of its own";
#endif
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) GTEST_SKIP() << "MALLOC_ARENA_MAX is set";
  ConfigureAllocatorForInference(2);
  const int before = Heaps();
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([] {
      std::vector<void*> held;
      for (int k = 0; k < 20000; ++k) {
        held.push_back(std::malloc(2048 + (k * 7919) % 60000));
        if (held.size() > 16) {
          std::free(held.front());
          held.erase(held.begin());
        }
      }
      for (void* block : held) std::free(block);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_LE(Heaps(), std::max(before, 2)) << "heaps before: " << before;
}

}  // namespace
}  // namespace fer
