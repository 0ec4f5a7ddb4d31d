#include "lib/model/face_expression_net.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "lib/model/net_input.h"
#include "tests/model/face_test_images.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

const torch::Device kCpu(torch::kCPU);

std::vector<float> Row(const torch::Tensor& t, int64_t i) {
  const torch::Tensor r = t[i].to(torch::kCPU).contiguous();
  return std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
}

int ArgMax(const std::vector<float>& v) {
  return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}

class FaceExpressionNetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<FaceExpressionNet> net = FaceExpressionNet::Load(testing::ModelDir(), kCpu);
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = new FaceExpressionNet(std::move(*net));
  }
  static void TearDownTestSuite() { delete net_; }
  static FaceExpressionNet* net_;
};
FaceExpressionNet* FaceExpressionNetTest::net_ = nullptr;

TEST_F(FaceExpressionNetTest, LabelsAreFaceApiOrder) {
  EXPECT_EQ(FaceExpressionNet::Labels(),
            (std::vector<std::string>{"neutral", "happy", "sad", "angry", "fearful", "disgusted",
                                      "surprised"}));
}

// Expected values: face-api 1.7.15 on TF.js 4.22.0 (cpu backend),
// faceExpressionNet.predictExpressions / faceFeatureExtractor.forward on
// tf.slice3d of the same pixels.
TEST_F(FaceExpressionNetTest, MatchesFaceApiOnSyntheticCrops) {
  const RgbImage image = testing::SyntheticImage();
  struct Expected {
    PixelRect rect;
    std::vector<float> probabilities;
    std::vector<float> first_features;
    double feature_sum;
  };
  const std::vector<Expected> cases = {
      // 90 x 70: padded by 10 rows on each side.
      {{10, 5, 90, 70},
       {0.459579229f, 0.111041732f, 0.075045906f, 0.268629491f, 0.005388638f, 0.0178531539f,
        0.0624617934f},
       {0.419711471f, 0, 0.191648871f, 0.409771234f, 0.131995633f, 0.569344163f, 0.0308924504f, 0},
       51.1716261},
      // 71 x 100: 29 columns of padding, 15 on the right and 14 on the left.
      {{30, 0, 71, 100},
       {0.590779603f, 0.072016567f, 0.110389203f, 0.0265140664f, 0.00343445758f, 0.0103070932f,
        0.186559007f},
       {0.52112335f, 0.240394011f, 0, 0.0493669137f, 0.645950675f, 0.0982300043f, 0, 0},
       68.9448787},
  };
  for (const Expected& c : cases) {
    SCOPED_TRACE(::testing::Message() << "crop " << c.rect.width << "x" << c.rect.height);
    const FaceExpressionNet::Output out =
        net_->Forward(CropsToBatchTensor({{&image, c.rect}}, FaceFeatureExtractor::kInputSize));
    ASSERT_EQ(out.probabilities.sizes(), (std::vector<int64_t>{1, 7}));
    ASSERT_EQ(out.features.sizes(), (std::vector<int64_t>{1, 256}));
    const std::vector<float> p = Row(out.probabilities, 0);
    for (int k = 0; k < 7; ++k) EXPECT_NEAR(p[k], c.probabilities[k], 2e-6) << k;
    const std::vector<float> f = Row(out.features, 0);
    for (size_t k = 0; k < c.first_features.size(); ++k) {
      EXPECT_NEAR(f[k], c.first_features[k], 2e-5) << k;
    }
    EXPECT_NEAR(std::accumulate(f.begin(), f.end(), 0.0), c.feature_sum, 1e-3);
  }
}

TEST_F(FaceExpressionNetTest, SmilingFacesAreHappyAndProbabilitiesSumToOne) {
  const RgbImage sample6 = testing::DemoImage(6);
  const RgbImage sample3 = testing::DemoImage(3);
  ASSERT_FALSE(sample6.empty());
  ASSERT_FALSE(sample3.empty());
  const torch::Tensor batch = CropsToBatchTensor({{&sample6, testing::kSmilingFaceSample6},
                                                  {&sample3, testing::kSmilingFaceSample3},
                                                  {&sample6, testing::kNeutralFaceSample6}},
                                                 FaceFeatureExtractor::kInputSize);
  const torch::Tensor p = net_->Forward(batch).probabilities;
  for (int64_t i = 0; i < 3; ++i) {
    const std::vector<float> row = Row(p, i);
    EXPECT_NEAR(std::accumulate(row.begin(), row.end(), 0.0), 1.0, 1e-5);
    for (float v : row) {
      EXPECT_GE(v, 0);
      EXPECT_LE(v, 1);
    }
  }
  EXPECT_EQ(ArgMax(Row(p, 0)), 1);  // happy
  EXPECT_GT(Row(p, 0)[1], 0.95);
  EXPECT_EQ(ArgMax(Row(p, 1)), 1);
  EXPECT_GT(Row(p, 1)[1], 0.95);
  EXPECT_EQ(ArgMax(Row(p, 2)), 0);  // neutral
  EXPECT_LT(Row(p, 2)[1], 0.05);
}

TEST_F(FaceExpressionNetTest, BatchOfNEqualsNSingles) {
  const RgbImage sample6 = testing::DemoImage(6);
  const RgbImage synthetic = testing::SyntheticImage();
  const std::vector<ImageRegion> regions = {{&sample6, testing::kSmilingFaceSample6},
                                            {&synthetic, {30, 0, 71, 100}},
                                            {&sample6, testing::kNeutralFaceSample6},
                                            WholeImage(synthetic)};
  const FaceExpressionNet::Output batch =
      net_->Forward(CropsToBatchTensor(regions, FaceFeatureExtractor::kInputSize));
  for (size_t i = 0; i < regions.size(); ++i) {
    const FaceExpressionNet::Output single =
        net_->Forward(CropsToBatchTensor({regions[i]}, FaceFeatureExtractor::kInputSize));
    EXPECT_TRUE(torch::allclose(batch.probabilities[i], single.probabilities[0], 1e-5, 1e-6)) << i;
    EXPECT_TRUE(torch::allclose(batch.features[i], single.features[0], 1e-4, 1e-5)) << i;
  }
}

TEST_F(FaceExpressionNetTest, ClassifyIsTheHeadOfForward) {
  const RgbImage synthetic = testing::SyntheticImage();
  const FaceExpressionNet::Output out = net_->Forward(
      CropsToBatchTensor({WholeImage(synthetic), {&synthetic, {10, 5, 90, 70}}}, 112));
  EXPECT_TRUE(torch::allclose(net_->Classify(out.features), out.probabilities, 1e-6, 1e-7));
}

TEST_F(FaceExpressionNetTest, HeadWeightsReproduceClassify) {
  const LinearLayerWeights head = net_->Head();
  ASSERT_EQ(head.classes, 7);
  ASSERT_EQ(head.dim, 256);
  ASSERT_EQ(head.weight.size(), 7u * 256u);
  ASSERT_EQ(head.bias.size(), 7u);
  const torch::Tensor features = torch::rand({3, 256}) * 4;
  const torch::Tensor w = torch::tensor(head.weight).reshape({7, 256});
  const torch::Tensor b = torch::tensor(head.bias);
  const torch::Tensor expected = torch::softmax(torch::matmul(features, w.t()) + b, 1);
  EXPECT_TRUE(torch::allclose(net_->Classify(features), expected, 1e-5, 1e-6));
}

TEST_F(FaceExpressionNetTest, RejectsWrongInputShapes) {
  EXPECT_THROW(net_->Forward(torch::zeros({1, 112, 112, 4})), c10::Error);
  EXPECT_THROW(net_->Forward(torch::zeros({1, 3, 112, 112})), c10::Error);
  EXPECT_THROW(net_->Classify(torch::zeros({2, 128})), c10::Error);
}

// face-api's expression weights, less `skip`, with `replace` swapped for
// `replacement`.
WeightMap EditedExpressionWeights(const std::string& skip, const std::string& replace = "",
                                  torch::Tensor replacement = {}) {
  absl::StatusOr<WeightMap> source =
      LoadFaceApiWeights(testing::ModelDir(), FaceExpressionNet::kModelName);
  EXPECT_TRUE(source.ok()) << source.status();
  WeightMap copy("edited expression model");
  for (const std::string& name : source->names()) {
    if (name == skip) continue;
    EXPECT_TRUE(copy.Insert(name, name == replace ? replacement : *source->Find(name)).ok());
  }
  return copy;
}

TEST(FaceExpressionNetLoadTest, MissingOrMisShapedWeightsAreClearErrors) {
  WeightMap no_bias = EditedExpressionWeights("fc/bias");
  absl::StatusOr<FaceExpressionNet> missing = FaceExpressionNet::FromWeightMap(no_bias, kCpu);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("fc/bias"), std::string::npos) << missing.status();

  WeightMap transposed = EditedExpressionWeights("", "fc/weights", torch::zeros({7, 256}));
  absl::StatusOr<FaceExpressionNet> wrong = FaceExpressionNet::FromWeightMap(transposed, kCpu);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("fc/weights"), std::string::npos) << wrong.status();

  WeightMap extra = EditedExpressionWeights("");
  ASSERT_TRUE(extra.Insert("fc2/weights", torch::zeros({2})).ok());
  absl::StatusOr<FaceExpressionNet> unused = FaceExpressionNet::FromWeightMap(extra, kCpu);
  EXPECT_EQ(unused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unused.status().message().find("fc2/weights"), std::string::npos) << unused.status();
}

TEST(FaceExpressionNetLoadTest, LandmarkWeightsAreRejected) {
  absl::StatusOr<WeightMap> landmarks =
      LoadFaceApiWeights(testing::ModelDir(), "face_landmark_68_model");
  ASSERT_TRUE(landmarks.ok());
  absl::StatusOr<FaceExpressionNet> net = FaceExpressionNet::FromWeightMap(*landmarks, kCpu);
  EXPECT_EQ(net.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(net.status().message().find("fc/weights"), std::string::npos) << net.status();
}

TEST(FaceExpressionNetLoadTest, MissingModelDirIsNotFound) {
  absl::StatusOr<FaceExpressionNet> net = FaceExpressionNet::Load("/nonexistent/model", kCpu);
  EXPECT_EQ(net.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace fer
