#include "lib/serving/model_call.h"

#include <gtest/gtest.h>

#include <new>
#include <stdexcept>
#include <vector>

#include "absl/status/statusor.h"

namespace fer {
namespace {

TEST(ModelCallTest, PassesAnswersAndErrorsThrough) {
  const absl::StatusOr<std::vector<float>> value = CallModel("the backbone", [] {
    return absl::StatusOr<std::vector<float>>({1.0f, 2.0f});
  });
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, (std::vector<float>{1.0f, 2.0f}));
  const absl::Status error =
      CallModel("the backbone", [] { return absl::InvalidArgumentError("crop 0: empty"); });
  EXPECT_EQ(error, absl::InvalidArgumentError("crop 0: empty"));
  EXPECT_FALSE(IsModelException(error));
}

TEST(ModelCallTest, AnExceptionBecomesInternalWithItsFirstLine) {
  const absl::StatusOr<int> failed = CallModel("face detection", []() -> absl::StatusOr<int> {
    throw std::runtime_error(
        "Expected 4-dimensional input for 4-dimensional weight\nException raised from "
        "check_shape_forward at ../aten/src/ATen/native/Convolution.cpp:611");
  });
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(failed.status().message(),
            "face detection failed: Expected 4-dimensional input for 4-dimensional weight");
  EXPECT_TRUE(IsModelException(failed.status()));
}

TEST(ModelCallTest, RunningOutOfMemoryIsResourceExhausted) {
  const auto oom = [](auto exception) {
    return CallModel("the backbone", [&]() -> absl::StatusOr<int> { throw exception; }).status();
  };
  const absl::Status cuda = oom(std::runtime_error(
      "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 139.72 GiB total capacity)"));
  EXPECT_EQ(cuda.code(), absl::StatusCode::kResourceExhausted) << cuda;
  EXPECT_NE(cuda.message().find("Tried to allocate 20.00 MiB"), absl::string_view::npos);
  const absl::Status cpu = oom(std::runtime_error(
      "[enforce fail at alloc_cpu.cpp:75] data. DefaultCPUAllocator: not enough memory: you "
      "tried to allocate 4294967296 bytes."));
  EXPECT_EQ(cpu.code(), absl::StatusCode::kResourceExhausted) << cpu;
  EXPECT_EQ(oom(std::bad_alloc()).code(), absl::StatusCode::kResourceExhausted);
  // Told apart from a full queue's ResourceExhausted, also in copies.
  const absl::Status copy = cuda;
  EXPECT_TRUE(IsModelException(copy));
  EXPECT_FALSE(IsModelException(absl::ResourceExhaustedError("inference queue full")));
}

}  // namespace
}  // namespace fer
