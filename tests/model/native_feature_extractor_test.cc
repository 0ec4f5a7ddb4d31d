#include "lib/model/native_feature_extractor.h"

#include <gtest/gtest.h>

#include <vector>

#include "lib/kernels/isa.h"
#include "lib/model/face_expression_net.h"
#include "lib/model/face_landmark_net.h"
#include "lib/model/net_input.h"
#include "lib/model/torch_runtime.h"
#include "tests/model/face_test_images.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

const torch::Device kCpu(torch::kCPU);

// Real faces and odd crops: the smiling and neutral faces of sample6 and
// sample3, the synthetic pattern, and a sliver that is mostly padding.
torch::Tensor FaceBatch() {
  static const RgbImage sample6 = testing::DemoImage(6);
  static const RgbImage sample3 = testing::DemoImage(3);
  static const RgbImage synthetic = testing::SyntheticImage();
  return CropsToBatchTensor({{&sample6, testing::kSmilingFaceSample6},
                             {&sample6, testing::kNeutralFaceSample6},
                             {&sample3, testing::kSmilingFaceSample3},
                             WholeImage(synthetic),
                             {&synthetic, {5, 0, 150, 9}}},
                            NativeFeatureExtractor::kInputSize);
}

double MaxRelativeDifference(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs() / (b.abs() + 1)).max().item<double>();
}

class NativeFeatureExtractorTest : public ::testing::Test {
 protected:
  void TearDown() override { ConfigureTorchThreads(0); }
};

TEST_F(NativeFeatureExtractorTest, ExpressionNetMatchesTheLibTorchPort) {
  const auto native = FaceExpressionNet::Load(testing::ModelDir(), kCpu, CpuKernels::kNative);
  const auto port = FaceExpressionNet::Load(testing::ModelDir(), kCpu, CpuKernels::kLibTorch);
  ASSERT_TRUE(native.ok()) << native.status();
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_NE(native->extractor().native(), nullptr);
  ASSERT_EQ(port->extractor().native(), nullptr);
  const torch::Tensor batch = FaceBatch();
  const FaceExpressionNet::Output a = native->Forward(batch);
  const FaceExpressionNet::Output b = port->Forward(batch);
  EXPECT_LT(MaxRelativeDifference(a.features, b.features), 2e-5);
  EXPECT_LT((a.probabilities - b.probabilities).abs().max().item<double>(), 2e-6);
  EXPECT_TRUE(torch::equal(a.probabilities.argmax(1), b.probabilities.argmax(1)));
}

TEST_F(NativeFeatureExtractorTest, LandmarkNetMatchesTheLibTorchPort) {
  const auto native = FaceLandmarkNet::Load(testing::ModelDir(), kCpu, CpuKernels::kNative);
  const auto port = FaceLandmarkNet::Load(testing::ModelDir(), kCpu, CpuKernels::kLibTorch);
  ASSERT_TRUE(native.ok()) << native.status();
  ASSERT_TRUE(port.ok()) << port.status();
  const torch::Tensor batch = FaceBatch();
  // Raw landmark outputs are relative positions in 0..1.
  EXPECT_LT((native->ForwardRaw(batch) - port->ForwardRaw(batch)).abs().max().item<double>(), 1e-5);
}

// Whole faces per thread, rows split between threads, or one thread: each
// output value is computed the same way, so the bits agree.
TEST_F(NativeFeatureExtractorTest, ThreadSplitsGiveIdenticalBits) {
  const auto net = FaceExpressionNet::Load(testing::ModelDir(), kCpu, CpuKernels::kNative);
  ASSERT_TRUE(net.ok()) << net.status();
  const torch::Tensor batch = FaceBatch();
  ConfigureTorchThreads(1);
  std::vector<torch::Tensor> singles;
  for (int64_t i = 0; i < batch.size(0); ++i) {
    singles.push_back(net->Forward(batch.slice(0, i, i + 1)).features);
  }
  for (int threads : {2, 3}) {
    SCOPED_TRACE(::testing::Message() << threads << " threads");
    ConfigureTorchThreads(threads);
    // 5 faces: some run whole on a thread, the rest with rows split.
    const torch::Tensor features = net->Forward(batch).features;
    for (int64_t i = 0; i < batch.size(0); ++i) {
      EXPECT_TRUE(torch::equal(features[i], singles[i][0])) << i;
      EXPECT_TRUE(torch::equal(net->Forward(batch.slice(0, i, i + 1)).features, singles[i])) << i;
    }
  }
}

TEST_F(NativeFeatureExtractorTest, CountsTheNetworksMultiplyAdds) {
  const auto net = FaceExpressionNet::Load(testing::ModelDir(), kCpu, CpuKernels::kNative);
  ASSERT_TRUE(net.ok()) << net.status();
  // Four dense blocks at 56, 28, 14 and 7 pixels (a 3x3 conv of 27 x 32
  // per pixel, then separable convs of 9 x in + in x out per pixel):
  // 51,537,024 multiply-adds.
  EXPECT_EQ(net->extractor().native()->multiply_adds(), 51537024);
}

TEST_F(NativeFeatureExtractorTest, EmptyBatchIsEmpty) {
  const auto net = FaceExpressionNet::Load(testing::ModelDir(), kCpu, CpuKernels::kNative);
  ASSERT_TRUE(net.ok()) << net.status();
  const FaceExpressionNet::Output out = net->Forward(torch::empty({0, 112, 112, 3}));
  EXPECT_EQ(out.features.sizes(), (std::vector<int64_t>{0, 256}));
  EXPECT_EQ(out.probabilities.sizes(), (std::vector<int64_t>{0, 7}));
}

TEST(CpuKernelsTest, AutoTakesTheFusedKernelsWhereTheCpuHasAvx2OrAvx512) {
  EXPECT_EQ(UsesFusedKernels(CpuKernels::kAuto), kernels::BestIsa() != kernels::Isa::kGeneric);
  EXPECT_TRUE(UsesFusedKernels(CpuKernels::kNative));
  EXPECT_FALSE(UsesFusedKernels(CpuKernels::kLibTorch));
  for (CpuKernels k : {CpuKernels::kAuto, CpuKernels::kNative, CpuKernels::kLibTorch}) {
    CpuKernels parsed = CpuKernels::kLibTorch;
    EXPECT_TRUE(ParseCpuKernels(CpuKernelsName(k), &parsed));
    EXPECT_EQ(parsed, k);
  }
  CpuKernels parsed = CpuKernels::kAuto;
  EXPECT_FALSE(ParseCpuKernels("fast", &parsed));
  // The default model placement follows the CPU.
  const auto net = FaceExpressionNet::Load(testing::ModelDir(), kCpu);
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_EQ(net->extractor().native() != nullptr, UsesFusedKernels(CpuKernels::kAuto));
}

}  // namespace
}  // namespace fer
