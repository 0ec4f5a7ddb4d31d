#include "lib/model/face_analyzer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <vector>

#include "lib/model/face_analyzer_impl.h"
#include "tests/model/face_test_images.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

int ArgMax(const std::vector<float>& v) {
  return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}

FaceAnalyzerConfig CpuConfig() {
  FaceAnalyzerConfig config;
  config.model_dir = testing::ModelDir();
  config.device.name = "cpu";
  return config;
}

// sample6.jpg's faces as face-api's SSD MobileNet v1 reports them (box in
// pixels, score), best first. Faces 0, 2 and 3 smile; face 1 is neutral.
const std::vector<FaceDetection> kSample6Detections = {
    {{680.675697f, 321.360855f, 159.406586f, 306.396565f}, 0.950167358f},
    {{1180.62824f, 304.810701f, 188.003998f, 280.076678f}, 0.947915316f},
    {{1487.23732f, 263.128113f, 211.95076f, 294.436516f}, 0.931615591f},
    {{249.526176f, 467.298164f, 210.157585f, 290.944286f}, 0.863515198f},
};

class FaceAnalyzerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<std::unique_ptr<FaceAnalyzerImpl>> analyzer =
        FaceAnalyzerImpl::Create(CpuConfig(), nullptr);
    ASSERT_TRUE(analyzer.ok()) << analyzer.status();
    analyzer_ = analyzer->release();
  }
  static void TearDownTestSuite() { delete analyzer_; }
  static FaceAnalyzerImpl* analyzer_;
};
FaceAnalyzerImpl* FaceAnalyzerTest::analyzer_ = nullptr;

TEST_F(FaceAnalyzerTest, DescribesItself) {
  EXPECT_EQ(analyzer_->labels().size(), 7u);
  EXPECT_EQ(analyzer_->labels()[1], "happy");
  EXPECT_EQ(analyzer_->feature_dim(), 256);
  EXPECT_EQ(analyzer_->input_size(), 112);
  EXPECT_EQ(analyzer_->device_name(), "cpu");
  EXPECT_EQ(analyzer_->detector_name(), "none");
  EXPECT_NE(analyzer_->backbone_id().find("face_expression_model"), std::string::npos);
}

TEST_F(FaceAnalyzerTest, AnalyzeWithoutDetectorFails) {
  EXPECT_EQ(analyzer_->Analyze(testing::SyntheticImage(), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// Expected values: face-api 1.7.15 on TF.js 4.22.0 (cpu backend), running
// DetectAllFaceLandmarksTask(...).withFaceExpressions() for these two
// detections on the same pixels. The first box sticks out of the image on
// the left: its crop is clipped, but face-api shifts the landmarks by the
// unclipped box.
TEST_F(FaceAnalyzerTest, MatchesFaceApiPipelineOnSyntheticImage) {
  const RgbImage image = testing::SyntheticImage();
  const std::vector<FaceDetection> detections = {{{-12.3f, 20.7f, 100.2f, 90.9f}, 0.9f},
                                                 {{60.25f, 10.5f, 80.5f, 95.75f}, 0.8f}};
  struct Expected {
    std::vector<Point> landmarks;  // points 0, 8, 16, 30, 36, 45, 48, 54
    Box aligned;
    std::vector<float> probabilities;
    std::vector<float> first_features;
    double feature_sum;
  };
  const std::vector<Expected> expected = {
      {{{27.2613107f, 61.1233199f},
        {31.3556096f, 54.6989036f},
        {21.8907154f, 59.3494866f},
        {34.9598171f, 66.4567692f},
        {34.8714077f, 73.5115958f},
        {31.3745993f, 72.1990997f},
        {36.877749f, 61.0022262f},
        {27.094635f, 55.7111747f}},
       {10.202539f, 46.4577609f, 40.2771595f, 38.9961337f},
       {0.504079938f, 0.00200504251f, 0.469590962f, 0.00738137495f, 0.00085706159f, 0.00396739133f,
        0.0121182743f},
       {0.789350092f, 0.402904987f, 0.348368376f, 0.664800644f, 0.438473344f, 1.26110971f,
        0.668094873f, 0.209857136f},
       134.638361},
      {{{72.3486545f, 32.2976384f},
        {101.758346f, 75.9217002f},
        {121.659688f, 35.9309155f},
        {101.850447f, 49.7563207f},
        {86.9097724f, 38.6830743f},
        {114.382061f, 42.2037962f},
        {92.5145736f, 58.1730499f},
        {107.111262f, 58.326921f}},
       {67.3488623f, 26.6221194f, 59.9975066f, 53.7813608f},
       {0.416378111f, 0.0377947204f, 0.395510405f, 0.0759637803f, 0.00170575106f, 0.0591338873f,
        0.013513322f},
       {0.387699753f, 0, 0, 0.325773746f, 1.07099104f, 1.45153499f, 0.341231763f, 0.791009426f},
       85.7370577},
  };
  absl::StatusOr<std::vector<FaceAnalysis>> faces =
      analyzer_->AnalyzeDetections(image, detections, /*with_features=*/true);
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->size(), 2u);
  const std::vector<int> indices = {0, 8, 16, 30, 36, 45, 48, 54};
  for (size_t f = 0; f < expected.size(); ++f) {
    SCOPED_TRACE(::testing::Message() << "face " << f);
    const FaceAnalysis& face = (*faces)[f];
    const Expected& want = expected[f];
    EXPECT_EQ(face.detection.score, detections[f].score);
    ASSERT_EQ(face.landmarks.size(), 68u);
    for (size_t k = 0; k < indices.size(); ++k) {
      EXPECT_NEAR(face.landmarks[indices[k]].x, want.landmarks[k].x, 2e-4) << indices[k];
      EXPECT_NEAR(face.landmarks[indices[k]].y, want.landmarks[k].y, 2e-4) << indices[k];
    }
    EXPECT_NEAR(face.aligned_box.x, want.aligned.x, 2e-4);
    EXPECT_NEAR(face.aligned_box.y, want.aligned.y, 2e-4);
    EXPECT_NEAR(face.aligned_box.width, want.aligned.width, 2e-4);
    EXPECT_NEAR(face.aligned_box.height, want.aligned.height, 2e-4);
    ASSERT_EQ(face.probabilities.size(), 7u);
    for (int k = 0; k < 7; ++k) EXPECT_NEAR(face.probabilities[k], want.probabilities[k], 2e-6);
    ASSERT_EQ(face.features.size(), 256u);
    for (size_t k = 0; k < want.first_features.size(); ++k) {
      EXPECT_NEAR(face.features[k], want.first_features[k], 2e-5) << k;
    }
    EXPECT_NEAR(std::accumulate(face.features.begin(), face.features.end(), 0.0), want.feature_sum,
                1e-3);
  }
}

TEST(FaceApiBoxesTest, ClipAtImageBordersFloorsEachField) {
  // x < 0: clipped to 0, the width shrinks by as much; then floor.
  const PixelRect a = face_api::ClipAtImageBorders({-12.3, 20.7, 100.2, 90.9}, 160, 120);
  EXPECT_EQ(a.x, 0);
  EXPECT_EQ(a.y, 20);
  EXPECT_EQ(a.width, 87);   // floor(87.9)
  EXPECT_EQ(a.height, 90);  // floor(90.9), bottom 111.6 < 120
  // Past the bottom-right corner: clipped to the image.
  const PixelRect b = face_api::ClipAtImageBorders({150.5, 100.5, 30, 30}, 160, 120);
  EXPECT_EQ(b.x, 150);
  EXPECT_EQ(b.y, 100);
  EXPECT_EQ(b.width, 9);    // floor(160 - 150.5)
  EXPECT_EQ(b.height, 19);  // floor(120 - 100.5)
  // Entirely outside: empty.
  EXPECT_TRUE(face_api::ClipAtImageBorders({170, 10, 20, 20}, 160, 120).empty());
  EXPECT_TRUE(
      face_api::ClipAtImageBorders({std::numeric_limits<double>::quiet_NaN(), 0, 5, 5}, 160, 120)
          .empty());
}

TEST(FaceApiBoxesTest, AlignMinBboxPadsTheLandmarksBoxByAFifth) {
  const face_api::BoxD box = face_api::AlignMinBbox({{10, 20}, {60, 30}, {30, 120}});
  EXPECT_DOUBLE_EQ(box.x, 10 - 5);
  EXPECT_DOUBLE_EQ(box.y, 20 - 10);
  EXPECT_DOUBLE_EQ(box.width, 60);
  EXPECT_DOUBLE_EQ(box.height, 120);
}

TEST_F(FaceAnalyzerTest, AnalyzesRealFacesGivenDetections) {
  const RgbImage photo = testing::DemoImage(6);
  ASSERT_FALSE(photo.empty());
  absl::StatusOr<std::vector<FaceAnalysis>> faces =
      analyzer_->AnalyzeDetections(photo, kSample6Detections, true);
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->size(), kSample6Detections.size());
  for (size_t i = 0; i < faces->size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "face " << i);
    const FaceAnalysis& face = (*faces)[i];
    EXPECT_EQ(face.detection.box.x, kSample6Detections[i].box.x);  // order kept
    const Box& box = face.detection.box;
    // The landmarks lie on the detected face (the jaw may poke out a bit).
    const float mx = 0.25f * box.width, my = 0.1f * box.height;
    int inside = 0;
    for (const Point& p : face.landmarks) {
      inside += p.x >= box.x - mx && p.x <= box.x + box.width + mx && p.y >= box.y - my &&
                p.y <= box.y + box.height + my;
    }
    EXPECT_EQ(inside, 68);
    EXPECT_GT(IoU(face.aligned_box, box), 0.4f);
    EXPECT_NEAR(std::accumulate(face.probabilities.begin(), face.probabilities.end(), 0.0), 1.0,
                1e-5);
    EXPECT_EQ(face.features.size(), 256u);
  }
  EXPECT_EQ(ArgMax((*faces)[0].probabilities), 1);  // happy
  EXPECT_EQ(ArgMax((*faces)[1].probabilities), 0);  // neutral
  EXPECT_EQ(ArgMax((*faces)[2].probabilities), 1);
  EXPECT_EQ(ArgMax((*faces)[3].probabilities), 1);

  // Without features: the same answers, no feature vectors.
  absl::StatusOr<std::vector<FaceAnalysis>> lean =
      analyzer_->AnalyzeDetections(photo, kSample6Detections, false);
  ASSERT_TRUE(lean.ok());
  ASSERT_EQ(lean->size(), faces->size());
  for (size_t i = 0; i < lean->size(); ++i) {
    EXPECT_TRUE((*lean)[i].features.empty());
    EXPECT_EQ((*lean)[i].probabilities, (*faces)[i].probabilities);
  }

  // The backbone on the aligned crop gives the pipeline's features.
  const PixelRect rect =
      face_api::FaceCropRect({(*faces)[1].aligned_box.x, (*faces)[1].aligned_box.y,
                              (*faces)[1].aligned_box.width, (*faces)[1].aligned_box.height},
                             photo.width, photo.height);
  absl::StatusOr<BackboneOutput> backbone =
      analyzer_->RunBackbone({testing::CropImage(photo, rect)});
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  for (int k = 0; k < 256; ++k) {
    EXPECT_NEAR(backbone->features[k], (*faces)[1].features[k], 1e-5) << k;
  }
}

// Boxes given in AnalyzeOptions (a tracker's) stand in for the detector's:
// this analyzer has none, and Locate and Analyze still work on them.
TEST_F(FaceAnalyzerTest, GivenBoxesStandInForTheDetector) {
  const RgbImage photo = testing::DemoImage(6);
  ASSERT_FALSE(photo.empty());
  AnalyzeTimings timings;
  AnalyzeOptions options;
  options.detections = &kSample6Detections;
  options.timings = &timings;
  absl::StatusOr<std::vector<LocatedFace>> located = analyzer_->Locate(photo, options);
  ASSERT_TRUE(located.ok()) << located.status();
  EXPECT_EQ(timings.detection, 0);
  absl::StatusOr<std::vector<FaceAnalysis>> analyzed = analyzer_->Analyze(photo, options);
  ASSERT_TRUE(analyzed.ok()) << analyzed.status();
  absl::StatusOr<std::vector<FaceAnalysis>> want =
      analyzer_->AnalyzeDetections(photo, kSample6Detections, true);
  ASSERT_TRUE(want.ok()) << want.status();
  ASSERT_EQ(located->size(), want->size());
  ASSERT_EQ(analyzed->size(), want->size());
  for (size_t i = 0; i < want->size(); ++i) {
    EXPECT_EQ((*located)[i].analysis.detection.box.x, (*want)[i].detection.box.x) << i;
    EXPECT_EQ((*located)[i].analysis.aligned_box.x, (*want)[i].aligned_box.x) << i;
    EXPECT_EQ((*analyzed)[i].probabilities, (*want)[i].probabilities) << i;
  }
}

TEST_F(FaceAnalyzerTest, DropsDetectionsOutsideTheImageAndValidatesInput) {
  const RgbImage image = testing::SyntheticImage();
  absl::StatusOr<std::vector<FaceAnalysis>> none = analyzer_->AnalyzeDetections(image, {}, true);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  absl::StatusOr<std::vector<FaceAnalysis>> outside = analyzer_->AnalyzeDetections(
      image, {{{200, 10, 30, 30}, 0.9f}, {{60.25f, 10.5f, 80.5f, 95.75f}, 0.8f}}, true);
  ASSERT_TRUE(outside.ok());
  ASSERT_EQ(outside->size(), 1u);
  EXPECT_EQ((*outside)[0].detection.score, 0.8f);

  RgbImage broken = image;
  broken.pixels.pop_back();
  EXPECT_EQ(analyzer_->AnalyzeDetections(broken, {}, true).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(FaceAnalyzerTest, RunBackboneBatchesCropsOfAnySize) {
  const RgbImage photo = testing::DemoImage(6);
  const RgbImage synthetic = testing::SyntheticImage();
  const std::vector<RgbImage> crops = {testing::CropImage(photo, testing::kSmilingFaceSample6),
                                       testing::CropImage(photo, testing::kNeutralFaceSample6),
                                       synthetic};
  absl::StatusOr<BackboneOutput> out = analyzer_->RunBackbone(crops);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->batch, 3);
  ASSERT_EQ(out->probabilities.size(), 3u * 7);
  ASSERT_EQ(out->features.size(), 3u * 256);
  EXPECT_EQ(ArgMax({out->probabilities.begin(), out->probabilities.begin() + 7}), 1);
  EXPECT_EQ(ArgMax({out->probabilities.begin() + 7, out->probabilities.begin() + 14}), 0);
  // One at a time: the same.
  for (size_t i = 0; i < crops.size(); ++i) {
    absl::StatusOr<BackboneOutput> single = analyzer_->RunBackbone({crops[i]});
    ASSERT_TRUE(single.ok());
    for (int k = 0; k < 7; ++k)
      EXPECT_NEAR(single->probabilities[k], out->probabilities[i * 7 + k], 1e-6);
  }
  // Classify on the features reproduces the probabilities.
  absl::StatusOr<std::vector<float>> probabilities = analyzer_->Classify(out->features, 3);
  ASSERT_TRUE(probabilities.ok());
  for (size_t k = 0; k < probabilities->size(); ++k) {
    EXPECT_NEAR((*probabilities)[k], out->probabilities[k], 1e-6);
  }
  EXPECT_EQ(analyzer_->Classify(out->features, 2).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(analyzer_->RunBackbone({})->probabilities.empty());
  EXPECT_EQ(analyzer_->RunBackbone({RgbImage{}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FaceAnalyzerDeviceTest, UnknownOrUnavailableDevicesAreClearErrors) {
  FaceAnalyzerConfig config = CpuConfig();
  config.device.name = "tpu";
  EXPECT_EQ(FaceAnalyzerImpl::Create(config, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  config.device.name = "cuda:x";
  EXPECT_EQ(FaceAnalyzerImpl::Create(config, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  if (!torch::cuda::is_available()) {
    config.device.name = "cuda";
    absl::Status status = FaceAnalyzerImpl::Create(config, nullptr).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(status.message().find("CUDA"), std::string::npos) << status;
  }
  config = CpuConfig();
  config.model_dir = "/nonexistent";
  EXPECT_EQ(FaceAnalyzerImpl::Create(config, nullptr).status().code(), absl::StatusCode::kNotFound);
}

// The whole pipeline with face-api's SSD detector (lib/model/face_detector).
TEST(FaceAnalyzerEndToEndTest, FindsAndReadsTheFacesOfADemoPhoto) {
  absl::StatusOr<std::unique_ptr<FaceAnalyzer>> analyzer = FaceAnalyzer::Load(CpuConfig());
  ASSERT_TRUE(analyzer.ok()) << analyzer.status();
  EXPECT_EQ((*analyzer)->detector_name(), "ssd_mobilenetv1");
  const RgbImage photo = testing::DemoImage(6);
  AnalyzeTimings timings;
  AnalyzeOptions options;
  options.timings = &timings;
  absl::StatusOr<std::vector<FaceAnalysis>> faces = (*analyzer)->Analyze(photo, options);
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->size(), kSample6Detections.size());
  for (size_t i = 0; i < faces->size(); ++i) {
    // Same faces as face-api's detector, best first (OpenCV's JPEG decoding
    // differs slightly from the reference's, hence the tolerance).
    EXPECT_GT(IoU((*faces)[i].detection.box, kSample6Detections[i].box), 0.9f) << i;
    if (i > 0) EXPECT_LE((*faces)[i].detection.score, (*faces)[i - 1].detection.score);
  }
  EXPECT_EQ(ArgMax((*faces)[0].probabilities), 1);
  EXPECT_EQ(ArgMax((*faces)[1].probabilities), 0);
  EXPECT_GT(timings.detection, 0);
  EXPECT_GT(timings.landmarks, 0);
  EXPECT_GT(timings.backbone, 0);

  // Locate, then the backbone on its crops (as the server does, batched
  // with other frames' faces), gives Analyze's answer.
  absl::StatusOr<std::vector<LocatedFace>> located = (*analyzer)->Locate(photo, {});
  ASSERT_TRUE(located.ok()) << located.status();
  ASSERT_EQ(located->size(), faces->size());
  std::vector<RgbImage> crops;
  for (const LocatedFace& face : *located) crops.push_back(face.crop);
  absl::StatusOr<BackboneOutput> backbone = (*analyzer)->RunBackbone(crops);
  ASSERT_TRUE(backbone.ok()) << backbone.status();
  for (size_t i = 0; i < faces->size(); ++i) {
    const FaceAnalysis& got = (*located)[i].analysis;
    EXPECT_EQ(got.detection.box.x, (*faces)[i].detection.box.x);
    EXPECT_EQ(got.aligned_box.width, (*faces)[i].aligned_box.width);
    EXPECT_EQ(got.landmarks.size(), 68u);
    EXPECT_TRUE(got.probabilities.empty());
    for (int k = 0; k < 7; ++k) {
      EXPECT_NEAR(backbone->probabilities[i * 7 + k], (*faces)[i].probabilities[k], 1e-5);
    }
    for (int k = 0; k < 256; ++k) {
      EXPECT_NEAR(backbone->features[i * 256 + k], (*faces)[i].features[k], 1e-4);
    }
  }
}

}  // namespace
}  // namespace fer
