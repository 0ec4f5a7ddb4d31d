#include "lib/model/face_landmark_net.h"

#include <gtest/gtest.h>

#include <vector>

#include "lib/model/face_types.h"
#include "lib/model/net_input.h"
#include "tests/model/face_test_images.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

const torch::Device kCpu(torch::kCPU);

class FaceLandmarkNetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<FaceLandmarkNet> net = FaceLandmarkNet::Load(testing::ModelDir(), kCpu);
    ASSERT_TRUE(net.ok()) << net.status();
    net_ = new FaceLandmarkNet(std::move(*net));
  }
  static void TearDownTestSuite() { delete net_; }

  // Landmarks of each region in the region's pixels, as face-api's
  // detectLandmarks reports them (relative position x crop size).
  static std::vector<std::vector<Point>> Detect(const std::vector<ImageRegion>& regions) {
    std::vector<CropSize> sizes;
    for (const ImageRegion& r : regions) sizes.push_back({r.rect.width, r.rect.height});
    const torch::Tensor rel = net_->DetectRelative(CropsToBatchTensor(regions, 112), sizes);
    std::vector<std::vector<Point>> out;
    for (size_t b = 0; b < regions.size(); ++b) {
      std::vector<Point> points;
      for (int i = 0; i < 68; ++i) {
        points.push_back(
            {static_cast<float>(rel[b][2 * i].item<float>() * static_cast<double>(sizes[b].width)),
             static_cast<float>(rel[b][2 * i + 1].item<float>() *
                                static_cast<double>(sizes[b].height))});
      }
      out.push_back(points);
    }
    return out;
  }

  static FaceLandmarkNet* net_;
};
FaceLandmarkNet* FaceLandmarkNetTest::net_ = nullptr;

TEST(FaceLandmarkNetPostProcessTest, UndoesCenteredPaddingAndScaling) {
  // A 50 x 100 crop: scale 1.12, content 56 x 112 with 28 columns of padding
  // on each side. Raw (0.5, 0.25) -> the crop's center column, a quarter
  // down; raw x 0.25 is the content's left edge.
  const torch::Tensor raw = torch::full({1, 136}, 0.5f);
  raw[0][1] = 0.25f;
  raw[0][2] = 0.25f;
  raw[0][4] = 0.75f;
  const torch::Tensor rel = FaceLandmarkNet::PostProcess(raw, 112, {{50, 100}});
  EXPECT_FLOAT_EQ(rel[0][0].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(rel[0][1].item<float>(), 0.25f);
  EXPECT_FLOAT_EQ(rel[0][2].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(rel[0][4].item<float>(), 1.0f);
  // A wide 200 x 100 crop: the padding is vertical.
  const torch::Tensor wide = FaceLandmarkNet::PostProcess(raw, 112, {{200, 100}});
  EXPECT_FLOAT_EQ(wide[0][0].item<float>(), 0.5f);
  EXPECT_FLOAT_EQ(wide[0][1].item<float>(), 0.0f);  // (0.25 * 112 - 28) / 56
  EXPECT_FLOAT_EQ(wide[0][3].item<float>(), 0.5f);
}

TEST(FaceLandmarkNetPostProcessTest, IsFloat32ArithmeticOfFaceApi) {
  // A 3 x 2 crop: face-api assumes half of the scaled difference as padding
  // (18.666...) although padToSquare put the odd row at the bottom.
  const torch::Tensor raw = torch::tensor({0.3f, 0.7f}).repeat({68}).reshape({1, 136});
  const torch::Tensor rel = FaceLandmarkNet::PostProcess(raw, 112, {{3, 2}});
  const double scale = 112.0 / 3;
  const float pad_y = static_cast<float>((112 - 2 * scale) / 2);
  const float height = static_cast<float>(2 * scale);
  const float expected_y = (0.7f * 112.0f - pad_y) / height;
  EXPECT_EQ(rel[0][1].item<float>(), expected_y);
  EXPECT_EQ(rel[0][0].item<float>(), 0.3f * 112.0f / 112.0f);
}

// Expected values: face-api 1.7.15 on TF.js 4.22.0 (cpu backend),
// faceLandmark68Net.detectLandmarks(tf.slice3d(...)) on the same pixels.
TEST_F(FaceLandmarkNetTest, MatchesFaceApiOnSyntheticCrops) {
  const RgbImage image = testing::SyntheticImage();
  const std::vector<int> indices = {0, 8, 16, 30, 36, 45, 48, 54};
  const std::vector<std::vector<Point>> expected = {
      {{22.8392404f, 33.7560254f},
       {50.6816536f, 45.0900048f},
       {58.458032f, 23.1190518f},
       {43.4721252f, 38.9362383f},
       {33.3352607f, 38.0314279f},
       {50.0052971f, 30.8734682f},
       {44.0921018f, 39.7828364f},
       {44.3039265f, 36.3997442f}},
      {{15.1885906f, 50.4417241f},
       {34.4147089f, 54.6856463f},
       {47.0571759f, 37.2846782f},
       {24.4774036f, 54.4717729f},
       {17.0236506f, 55.0945878f},
       {30.7531777f, 49.6251732f},
       {30.8114344f, 58.2443058f},
       {32.2793639f, 52.8929472f}},
  };
  const std::vector<std::vector<Point>> got =
      Detect({{&image, {10, 5, 90, 70}}, {&image, {30, 0, 71, 100}}});
  for (size_t b = 0; b < expected.size(); ++b) {
    for (size_t k = 0; k < indices.size(); ++k) {
      EXPECT_NEAR(got[b][indices[k]].x, expected[b][k].x, 2e-4) << b << " " << indices[k];
      EXPECT_NEAR(got[b][indices[k]].y, expected[b][k].y, 2e-4) << b << " " << indices[k];
    }
  }
}

TEST_F(FaceLandmarkNetTest, FindsAFacesLayoutOnARealPhoto) {
  const RgbImage photo = testing::DemoImage(6);
  ASSERT_FALSE(photo.empty());
  for (const PixelRect& rect : {testing::kSmilingFaceSample6, testing::kNeutralFaceSample6}) {
    const std::vector<Point> p = Detect({{&photo, rect}})[0];
    ASSERT_EQ(p.size(), 68u);
    auto mean = [&](int begin, int end) {
      Point m;
      for (int i = begin; i < end; ++i) {
        m.x += p[i].x / (end - begin);
        m.y += p[i].y / (end - begin);
      }
      return m;
    };
    for (const Point& q : p) {  // all inside the (aligned) crop, give or take
      EXPECT_GT(q.x, -0.1f * rect.width);
      EXPECT_LT(q.x, 1.1f * rect.width);
      EXPECT_GT(q.y, -0.1f * rect.height);
      EXPECT_LT(q.y, 1.1f * rect.height);
    }
    const Point eye_r = mean(36, 42), eye_l = mean(42, 48), nose = mean(27, 36),
                mouth = mean(48, 68);
    EXPECT_LT(eye_r.x, eye_l.x);  // the subject's right eye is on the image's left
    EXPECT_LT(eye_r.y, nose.y);
    EXPECT_LT(eye_l.y, nose.y);
    EXPECT_LT(nose.y, mouth.y);
    EXPECT_LT(p[0].x, p[16].x);   // jaw runs left to right
    EXPECT_GT(p[8].y, mouth.y);   // chin below the mouth
    EXPECT_LT(p[48].x, p[54].x);  // mouth corners
  }
}

TEST_F(FaceLandmarkNetTest, BatchOfNEqualsNSingles) {
  const RgbImage photo = testing::DemoImage(6);
  const RgbImage synthetic = testing::SyntheticImage();
  const std::vector<ImageRegion> regions = {{&photo, testing::kSmilingFaceSample6},
                                            {&synthetic, {10, 5, 90, 70}},
                                            {&photo, testing::kNeutralFaceSample6}};
  std::vector<CropSize> sizes;
  for (const ImageRegion& r : regions) sizes.push_back({r.rect.width, r.rect.height});
  const torch::Tensor batch = net_->DetectRelative(CropsToBatchTensor(regions, 112), sizes);
  for (size_t i = 0; i < regions.size(); ++i) {
    const torch::Tensor single =
        net_->DetectRelative(CropsToBatchTensor({regions[i]}, 112), {sizes[i]});
    EXPECT_TRUE(torch::allclose(batch[i], single[0], 1e-5, 1e-6)) << i;
  }
}

TEST(FaceLandmarkNetLoadTest, ExpressionWeightsAreRejected) {
  absl::StatusOr<WeightMap> weights =
      LoadFaceApiWeights(testing::ModelDir(), "face_expression_model");
  ASSERT_TRUE(weights.ok());
  absl::StatusOr<FaceLandmarkNet> net = FaceLandmarkNet::FromWeightMap(*weights, kCpu);
  EXPECT_EQ(net.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(net.status().message().find("fc/weights"), std::string::npos) << net.status();
}

}  // namespace
}  // namespace fer
