#include "lib/serving/model_warmup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "lib/model/backbone_face_analyzer.h"
#include "lib/serving/model_call.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

using ::testing::ElementsAre;
using ::testing::MatchesRegex;

// A FaceAnalyzer that runs the real one and records what was asked of it.
class RecordingAnalyzer : public FaceAnalyzer {
 public:
  explicit RecordingAnalyzer(FaceAnalyzer* inner) : inner_(inner) {}

  struct LocateCall {
    int given_boxes = -1;  // -1: the detector ran
    int faces = 0;
    int landmarks = 0;  // of the first face
  };
  std::vector<LocateCall> locates;
  std::vector<int> classify_batches;
  std::vector<std::vector<int>> clip_calls;  // frames of each clip

  absl::StatusOr<std::vector<FaceAnalysis>> Analyze(const RgbImage& image,
                                                    const AnalyzeOptions& options) override {
    return inner_->Analyze(image, options);
  }
  absl::StatusOr<std::vector<LocatedFace>> Locate(const RgbImage& image,
                                                  const AnalyzeOptions& options) override {
    absl::StatusOr<std::vector<LocatedFace>> faces = inner_->Locate(image, options);
    LocateCall call;
    call.given_boxes = options.detections ? static_cast<int>(options.detections->size()) : -1;
    if (faces.ok()) {
      call.faces = static_cast<int>(faces->size());
      if (!faces->empty()) call.landmarks = static_cast<int>((*faces)[0].analysis.landmarks.size());
    }
    locates.push_back(call);
    return faces;
  }
  absl::StatusOr<BackboneOutput> RunBackbone(const std::vector<RgbImage>& crops) override {
    return inner_->RunBackbone(crops);
  }
  absl::StatusOr<std::vector<float>> Classify(const std::vector<float>& features,
                                              int batch) override {
    classify_batches.push_back(batch);
    return inner_->Classify(features, batch);
  }
  LinearLayerWeights ExpressionHead() const override { return inner_->ExpressionHead(); }
  int clip_frames() const override { return inner_->clip_frames(); }
  int clip_stride() const override { return inner_->clip_stride(); }
  absl::StatusOr<BackboneOutput> RunClips(
      const std::vector<std::vector<RgbImage>>& clips) override {
    std::vector<int> frames;
    for (const std::vector<RgbImage>& clip : clips) frames.push_back(static_cast<int>(clip.size()));
    clip_calls.push_back(frames);
    return inner_->RunClips(clips);
  }
  const std::vector<std::string>& labels() const override { return inner_->labels(); }
  int feature_dim() const override { return inner_->feature_dim(); }
  int input_size() const override { return inner_->input_size(); }
  std::string backbone_id() const override { return inner_->backbone_id(); }
  std::string detector_name() const override { return inner_->detector_name(); }
  std::string device_name() const override { return inner_->device_name(); }

 private:
  FaceAnalyzer* inner_;
};

std::vector<std::string> StepNames(const std::vector<WarmupStep>& steps) {
  std::vector<std::string> names;
  for (const WarmupStep& step : steps) names.push_back(step.what);
  return names;
}

class ModelWarmupTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    FaceAnalyzerConfig config;
    config.model_dir = testing::ModelDir();
    absl::StatusOr<std::unique_ptr<FaceAnalyzer>> loaded = FaceAnalyzer::Load(config);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    analyzer_ = loaded->release();
  }
  static void TearDownTestSuite() { delete analyzer_; }

  static FaceAnalyzer* analyzer_;
};

FaceAnalyzer* ModelWarmupTest::analyzer_ = nullptr;

TEST_F(ModelWarmupTest, RunsEveryNetworkAtTheServedBatchSizes) {
  ASSERT_NE(analyzer_, nullptr);
  RecordingAnalyzer recording(analyzer_);
  std::vector<int> batches;
  const absl::StatusOr<std::vector<WarmupStep>> steps =
      WarmUpModels(recording,
                   [&](const std::vector<RgbImage>& crops) {
                     batches.push_back(static_cast<int>(crops.size()));
                     return analyzer_->RunBackbone(crops);
                   },
                   {1, 32});
  ASSERT_TRUE(steps.ok()) << steps.status();
  EXPECT_THAT(StepNames(*steps),
              ElementsAre("face detection", "face landmarks", "the backbone at batch 1",
                          "the backbone at batch 32", "the expression head"));
  for (const WarmupStep& step : *steps) EXPECT_GE(step.seconds, 0) << step.what;

  // The detector on the frame, then the landmark net on a given box: it
  // found the box's face and its 68 points.
  ASSERT_EQ(recording.locates.size(), 2u);
  EXPECT_EQ(recording.locates[0].given_boxes, -1);
  EXPECT_EQ(recording.locates[1].given_boxes, 1);
  EXPECT_EQ(recording.locates[1].faces, 1);
  EXPECT_EQ(recording.locates[1].landmarks, 68);
  EXPECT_THAT(batches, ElementsAre(1, 32));
  EXPECT_THAT(recording.classify_batches, ElementsAre(1));
  EXPECT_TRUE(recording.clip_calls.empty());  // a frame model

  EXPECT_THAT(DescribeWarmup(*steps),
              MatchesRegex("face detection [0-9]+ ms, face landmarks [0-9]+ ms, the backbone at "
                           "batch 1 [0-9]+ ms, the backbone at batch 32 [0-9]+ ms, the "
                           "expression head [0-9]+ ms"));
}

TEST_F(ModelWarmupTest, AFailureStopsTheWarmUpAndNamesTheStep) {
  ASSERT_NE(analyzer_, nullptr);
  // A GPU that holds a batch of 8 faces but not 32.
  int runs = 0;
  const absl::StatusOr<std::vector<WarmupStep>> out_of_memory = WarmUpModels(
      *analyzer_,
      [&](const std::vector<RgbImage>& crops) -> absl::StatusOr<BackboneOutput> {
        ++runs;
        if (crops.size() > 8) {
          throw std::runtime_error(
              "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.74 GiB total "
              "capacity)\nException raised from malloc at CUDACachingAllocator.cpp:913");
        }
        return analyzer_->RunBackbone(crops);
      },
      {1, 32, 64});
  ASSERT_FALSE(out_of_memory.ok());
  EXPECT_EQ(out_of_memory.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(out_of_memory.status().message()),
              ::testing::StartsWith("the backbone at batch 32 ran out of memory: CUDA out of "
                                    "memory. Tried to allocate 2.00 GiB"));
  EXPECT_EQ(runs, 2);  // no batch of 64 after the failure

  // The same failure as the batcher reports it from its own thread.
  const absl::StatusOr<std::vector<WarmupStep>> batcher_out_of_memory =
      WarmUpModels(*analyzer_,
                   [&](const std::vector<RgbImage>& crops) -> absl::StatusOr<BackboneOutput> {
                     if (crops.size() > 8)
                       return ModelExceptionStatus("the backbone", std::bad_alloc());
                     return analyzer_->RunBackbone(crops);
                   },
                   {1, 32});
  EXPECT_EQ(batcher_out_of_memory.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(batcher_out_of_memory.status().message()),
              ::testing::StartsWith("the backbone at batch 32: the backbone ran out of memory"));

  // An error the runner answers (not an exception) gets the step's name.
  const absl::StatusOr<std::vector<WarmupStep>> refused =
      WarmUpModels(*analyzer_,
                   [](const std::vector<RgbImage>&) -> absl::StatusOr<BackboneOutput> {
                     return absl::UnavailableError("the batcher is shut down");
                   },
                   {1, 32});
  EXPECT_EQ(refused.status(),
            absl::UnavailableError("the backbone at batch 1: the batcher is shut down"));
}

TEST(ClipModelWarmupTest, AlsoRunsTheClipBackbone) {
  FaceAnalyzerConfig base;
  base.model_dir = testing::ModelDir();
  absl::StatusOr<std::unique_ptr<BackboneFaceAnalyzer>> clip_model =
      BackboneFaceAnalyzer::Load(base, testing::ClipModelDir() + "/model.json");
  ASSERT_TRUE(clip_model.ok()) << clip_model.status();
  ASSERT_GT((*clip_model)->clip_frames(), 1);
  RecordingAnalyzer recording(clip_model->get());
  // As with --max_batch_size=1: batch 1 runs once.
  const absl::StatusOr<std::vector<WarmupStep>> steps = WarmUpModels(
      recording,
      [&](const std::vector<RgbImage>& crops) { return (*clip_model)->RunBackbone(crops); },
      {1, 1});
  ASSERT_TRUE(steps.ok()) << steps.status();
  EXPECT_THAT(StepNames(*steps),
              ElementsAre("face detection", "face landmarks", "the backbone at batch 1",
                          "the clip backbone", "the expression head"));
  // One clip of the model's length, as a stream's clip runs.
  EXPECT_THAT(recording.clip_calls, ElementsAre(std::vector<int>{(*clip_model)->clip_frames()}));
}

}  // namespace
}  // namespace fer
