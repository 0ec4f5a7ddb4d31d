#include "lib/kernels/conv_program.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

namespace fer::kernels {
namespace {

std::vector<float> RandomVector(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// A small network: dense 3x3 (stride 2) -> separable (residual) ->
// separable (stride 2) -> pointwise, on a 20 x 18 x 3 image.
struct SmallNetwork {
  std::mt19937 rng{5};
  std::vector<float> conv = RandomVector(27 * 16, rng), conv_bias = RandomVector(16, rng);
  std::vector<float> dw1 = RandomVector(9 * 16, rng), pw1 = RandomVector(16 * 16, rng);
  std::vector<float> dw2 = RandomVector(9 * 16, rng), pw2 = RandomVector(16 * 32, rng);
  std::vector<float> pw3 = RandomVector(32 * 5, rng), bias3 = RandomVector(5, rng);
  std::vector<float> image = RandomVector(20 * 18 * 3, rng);

  ConvProgram Program(int* output) const {
    ConvProgram program({20, 18, 3});
    const int a = program.NewSlot(), b = program.NewSlot();
    program.Conv3x3(0, a, 2, PackedMatrix(conv.data(), 27, 16, conv_bias.data()),
                    Activation::kRelu);
    program.Separable(a, b, 1, false, DepthwiseFilter(dw1.data(), 16),
                      PackedMatrix(pw1.data(), 16, 16, nullptr), Activation::kNone, a);
    program.Separable(b, a, 2, true, DepthwiseFilter(dw2.data(), 16),
                      PackedMatrix(pw2.data(), 16, 32, nullptr), Activation::kRelu6);
    program.Pointwise(a, b, PackedMatrix(pw3.data(), 32, 5, bias3.data()), Activation::kNone);
    *output = b;
    return program;
  }

  // The same layers called one by one.
  std::vector<float> Direct() const {
    std::vector<float> a(10 * 9 * 16), b(10 * 9 * 16), c(5 * 5 * 32), d(5 * 5 * 5);
    const ImageView va{a.data(), 10, 9, 16}, vb{b.data(), 10, 9, 16}, vc{c.data(), 5, 5, 32},
        vd{d.data(), 5, 5, 5};
    Conv3x3Rows(ConstImageView(image.data(), 20, 18, 3), 2, Padding::kSame,
                PackedMatrix(conv.data(), 27, 16, conv_bias.data()), {nullptr, Activation::kRelu},
                va, 0, 10);
    SeparableConvRows(va, 1, false, DepthwiseFilter(dw1.data(), 16),
                      PackedMatrix(pw1.data(), 16, 16, nullptr), {a.data(), Activation::kNone}, vb,
                      0, 10);
    SeparableConvRows(vb, 2, true, DepthwiseFilter(dw2.data(), 16),
                      PackedMatrix(pw2.data(), 16, 32, nullptr), {nullptr, Activation::kRelu6}, vc,
                      0, 5);
    PointwiseRows(vc, PackedMatrix(pw3.data(), 32, 5, bias3.data()), {}, vd, 0, 5);
    return d;
  }
};

std::vector<float> RunOnce(const ConvProgram& program, int output, const std::vector<float>& image,
                           const ConvProgram::RowSplitter& split) {
  ConvProgram::Workspace workspace;
  program.Prepare(workspace);
  const ImageView input = workspace.slot(0, program.shape(0));
  std::copy(image.begin(), image.end(), input.data);
  program.Run(workspace, split);
  const ImageView out = workspace.slot(output, program.shape(output));
  return std::vector<float>(out.data, out.data + program.shape(output).floats());
}

// Splits rows between three threads.
void ThreeThreads(int rows, const std::function<void(int, int)>& body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] { body(rows * t / 3, rows * (t + 1) / 3); });
  }
  for (std::thread& thread : threads) thread.join();
}

TEST(ConvProgramTest, RunsItsLayersInOrderAsDirectCallsWould) {
  const SmallNetwork net;
  int output = 0;
  const ConvProgram program = net.Program(&output);
  EXPECT_EQ(program.shape(output).height, 5);
  EXPECT_EQ(program.shape(output).width, 5);
  EXPECT_EQ(program.shape(output).channels, 5);
  // 10 x 9 x 27 x 16 + 10 x 9 x (9 + 16) x 16 + 5 x 5 x (9 + 32) x 16 + 5 x 5 x 32 x 5
  EXPECT_EQ(program.multiply_adds(), 38880 + 36000 + 16400 + 4000);
  EXPECT_EQ(RunOnce(program, output, net.image, nullptr), net.Direct());
}

TEST(ConvProgramTest, EveryInstructionSetAgreesWithPlainLoops) {
  const SmallNetwork net;
  int output = 0;
  ConvProgram program = net.Program(&output);
  std::vector<std::vector<float>> results;
  for (Isa isa : SupportedIsas()) {
    program.set_isa(isa);
    EXPECT_EQ(program.isa(), isa);
    results.push_back(RunOnce(program, output, net.image, nullptr));
  }
  // Multiply-adds may be fused on one set and not on another: equal to
  // float32 rounding.
  for (size_t i = 1; i < results.size(); ++i) {
    ASSERT_EQ(results[i].size(), results[0].size());
    for (size_t k = 0; k < results[0].size(); ++k) {
      EXPECT_NEAR(results[i][k], results[0][k], 1e-4 * (1 + std::abs(results[0][k]))) << k;
    }
  }
}

TEST(ConvProgramTest, SplittingRowsBetweenThreadsGivesTheSameBits) {
  const SmallNetwork net;
  int output = 0;
  const ConvProgram program = net.Program(&output);
  EXPECT_EQ(RunOnce(program, output, net.image, ThreeThreads), net.Direct());
}

// The tiny face detector's pattern: 3x3 'valid' conv, 2x2 pool of stride 2,
// separable conv, 2x2 pool of stride 1, with leaky ReLUs.
struct TinyDetectorLayers {
  std::mt19937 rng{7};
  std::vector<float> conv = RandomVector(27 * 16, rng), bias = RandomVector(16, rng);
  std::vector<float> dw = RandomVector(9 * 16, rng), pw = RandomVector(16 * 32, rng);
  std::vector<float> pw_bias = RandomVector(32, rng);

  // With `fused`, each pool runs fused with the layer before it
  // (ThenMaxPool2x2), the second into that layer's own, unwritten slot.
  ConvProgram Program(int height, int width, bool fused, int* output) const {
    ConvProgram program({height, width, 3});
    const int a = program.NewSlot(), b = program.NewSlot();
    program.Conv3x3(0, a, 1, PackedMatrix(conv.data(), 27, 16, bias.data()), Activation::kLeaky,
                    Padding::kValid);
    if (fused) {
      program.ThenMaxPool2x2(b, 2);
    } else {
      program.MaxPool2x2(a, b, 2);
    }
    program.Separable(b, a, 1, false, DepthwiseFilter(dw.data(), 16),
                      PackedMatrix(pw.data(), 16, 32, pw_bias.data()), Activation::kLeaky);
    if (fused) {
      program.ThenMaxPool2x2(a, 1);
      *output = a;
    } else {
      program.MaxPool2x2(a, b, 1);
      *output = b;
    }
    return program;
  }
};

TEST(ConvProgramTest, ValidConvAndMaxPoolLayersRunAsDirectCallsWould) {
  const TinyDetectorLayers net;
  std::mt19937 rng(17);
  const std::vector<float> image = RandomVector(21 * 20 * 3, rng);
  int output = 0;
  const ConvProgram program = net.Program(21, 20, /*fused=*/false, &output);
  EXPECT_EQ(program.shape(output).height, 10);  // 21 -> 19 -> 10 -> 10 -> 10
  EXPECT_EQ(program.shape(output).width, 9);    // 20 -> 18 -> 9
  EXPECT_EQ(program.shape(output).channels, 32);
  // Pools add no multiply-adds: 19 x 18 x 27 x 16 + 10 x 9 x (9 + 32) x 16.
  EXPECT_EQ(program.multiply_adds(), 147744 + 59040);

  std::vector<float> c0(19 * 18 * 16), p0(10 * 9 * 16), c1(10 * 9 * 32), p1(10 * 9 * 32);
  const ImageView v0{c0.data(), 19, 18, 16}, v1{p0.data(), 10, 9, 16}, v2{c1.data(), 10, 9, 32},
      v3{p1.data(), 10, 9, 32};
  Conv3x3Rows(ConstImageView(image.data(), 21, 20, 3), 1, Padding::kValid,
              PackedMatrix(net.conv.data(), 27, 16, net.bias.data()), {nullptr, Activation::kLeaky},
              v0, 0, 19);
  MaxPool2x2Rows(v0, 2, v1, 0, 10);
  SeparableConvRows(v1, 1, false, DepthwiseFilter(net.dw.data(), 16),
                    PackedMatrix(net.pw.data(), 16, 32, net.pw_bias.data()),
                    {nullptr, Activation::kLeaky}, v2, 0, 10);
  MaxPool2x2Rows(v2, 1, v3, 0, 10);
  EXPECT_EQ(RunOnce(program, output, image, nullptr), p1);
}

TEST(ConvProgramTest, FusedPoolsGiveTheBitsOfSeparatePools) {
  // An image wide enough that a layer's rows take several bands, with an
  // odd number of rows for the stride-2 pool.
  const TinyDetectorLayers net;
  std::mt19937 rng(18);
  const std::vector<float> image = RandomVector(41 * 300 * 3, rng);
  int fused_output = 0, separate_output = 0;
  const ConvProgram fused = net.Program(41, 300, /*fused=*/true, &fused_output);
  const ConvProgram separate = net.Program(41, 300, /*fused=*/false, &separate_output);
  EXPECT_EQ(fused.shape(fused_output).height, 20);  // 41 -> 39 -> 20 -> 20 -> 20
  EXPECT_EQ(fused.shape(fused_output).width, 149);  // 300 -> 298 -> 149
  EXPECT_EQ(fused.shape(fused_output).channels, 32);
  EXPECT_EQ(fused.multiply_adds(), separate.multiply_adds());
  const std::vector<float> want = RunOnce(separate, separate_output, image, nullptr);
  EXPECT_EQ(RunOnce(fused, fused_output, image, nullptr), want);
  EXPECT_EQ(RunOnce(fused, fused_output, image, ThreeThreads), want);
  // The fused program never holds the 39 x 298 x 16 conv output: its slots
  // are the input, the 20 x 149 x 16 pool and the 20 x 149 x 32 pool.
  ConvProgram::Workspace fused_workspace, separate_workspace;
  fused.Prepare(fused_workspace);
  separate.Prepare(separate_workspace);
  EXPECT_EQ(fused_workspace.floats(), 41 * 300 * 3 + 20 * 149 * 16 + 20 * 149 * 32);
  EXPECT_EQ(separate_workspace.floats(), 41 * 300 * 3 + 39 * 298 * 16 + 20 * 149 * 32);
}

bool OnCacheLine(const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; }

TEST(ConvProgramTest, SlotsStartOnCacheLines) {
  // Slots of 0.75 to 8 MiB, as a detector's: malloc takes them from mmap,
  // where its blocks start 16 bytes past a page.
  ConvProgram program({256, 256, 3});
  const int a = program.NewSlot(), b = program.NewSlot();
  std::mt19937 rng(3);
  const std::vector<float> conv = RandomVector(27 * 32, rng), pw = RandomVector(32 * 16, rng);
  program.Conv3x3(0, a, 1, PackedMatrix(conv.data(), 27, 32, nullptr), Activation::kRelu);
  program.Pointwise(a, b, PackedMatrix(pw.data(), 32, 16, nullptr), Activation::kNone);
  ConvProgram::Workspace workspace;
  program.Prepare(workspace);
  for (int slot : {0, a, b}) {
    EXPECT_TRUE(OnCacheLine(workspace.slot(slot, program.shape(slot)).data)) << "slot " << slot;
  }
}

TEST(ConvProgramTest, WorkspacePoolReusesWhatWasGivenBack) {
  const SmallNetwork net;
  int output = 0;
  const ConvProgram program = net.Program(&output);
  ConvProgram::WorkspacePool pool(&program);
  {
    const ConvProgram::WorkspacePool::Lease first = pool.Take();
    const ConvProgram::WorkspacePool::Lease second = pool.Take();
    EXPECT_NE(&*first, &*second);
    EXPECT_EQ(pool.size(), 2);
    // A leased workspace fits the program.
    EXPECT_NE(first->slot(output, program.shape(output)).data, nullptr);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        const ConvProgram::WorkspacePool::Lease lease = pool.Take();
        const ImageView input = lease->slot(0, program.shape(0));
        std::copy(net.image.begin(), net.image.end(), input.data);
        program.Run(*lease);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(pool.size(), 8);  // never more than the runs at once
}

}  // namespace
}  // namespace fer::kernels
