#include "lib/model/torchscript_backbone.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "lib/model/backbone_config.h"
#include "lib/model/backbone_face_analyzer.h"
#include "lib/model/face_analyzer_impl.h"
#include "lib/vision/image_file.h"
#include "nlohmann/json.hpp"
#include "tests/file_contents.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

using nlohmann::json;

std::string ConfigPath() { return testing::ClipModelDir() + "/model.json"; }

json BaseConfig() { return json::parse(testing::ReadFileContents(ConfigPath())); }

// A reference tensor written by make_test_clip_model.py.
torch::Tensor ReferenceTensor(const std::string& name) {
  const json reference =
      json::parse(testing::ReadFileContents(testing::ClipModelDir() + "/reference.json"));
  const json& entry = reference.at("tensors").at(name);
  std::vector<int64_t> shape = entry.at("shape").get<std::vector<int64_t>>();
  const std::string bytes = testing::ReadFileContents(testing::ClipModelDir() + "/" +
                                                      entry.at("file").get<std::string>());
  const int64_t count = std::accumulate(shape.begin(), shape.end(), int64_t{1},
                                        [](int64_t a, int64_t b) { return a * b; });
  EXPECT_EQ(bytes.size(), static_cast<size_t>(count) * sizeof(float)) << name;
  torch::Tensor t = torch::empty(shape, torch::kFloat32);
  std::memcpy(t.data_ptr<float>(), bytes.data(), std::min<size_t>(bytes.size(), t.nbytes()));
  return t;
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

std::unique_ptr<TorchScriptBackbone> LoadBackbone(const BackboneConfig& config) {
  absl::StatusOr<std::unique_ptr<TorchScriptBackbone>> backbone =
      TorchScriptBackbone::Load(config, ModelDevice{"cpu"});
  EXPECT_TRUE(backbone.ok()) << backbone.status();
  return backbone.ok() ? *std::move(backbone) : nullptr;
}

// Parses `config` (JSON) with model_file resolved in the clip model folder.
absl::StatusOr<BackboneConfig> Parse(const json& config) {
  return ParseBackboneConfig(config.dump(), testing::ClipModelDir());
}

// Parses and loads `config`; the status of the first step that fails.
absl::Status LoadStatus(const json& config) {
  absl::StatusOr<BackboneConfig> parsed = Parse(config);
  if (!parsed.ok()) return parsed.status();
  return TorchScriptBackbone::Load(*parsed, ModelDevice{"cpu"}).status();
}

TEST(TorchScriptBackboneTest, ConfigDescribesTheTestClipModel) {
  absl::StatusOr<BackboneConfig> config = ReadBackboneConfig(ConfigPath());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->name, "tiny-unilearn-vitmoe-test");
  EXPECT_EQ(config->input_size, 32);
  EXPECT_EQ(config->frames, 4);
  EXPECT_EQ(config->stride, 2);
  EXPECT_EQ(config->feature_dim, 64);
  EXPECT_EQ(config->labels,
            (std::vector<std::string>{"neutral", "happiness", "sadness", "surprise", "anger"}));
  EXPECT_TRUE(config->is_clip_model());
  EXPECT_EQ(config->model_path, testing::ClipModelDir() + "/model.pt");
}

// The C++ server and Python give the same features and logits on the same
// clips (video head) and, with image_input native, images (image head).
TEST(TorchScriptBackboneTest, MatchesPythonOnClipsAndImages) {
  absl::StatusOr<BackboneConfig> config = ReadBackboneConfig(ConfigPath());
  ASSERT_TRUE(config.ok()) << config.status();
  std::unique_ptr<TorchScriptBackbone> backbone = LoadBackbone(*config);
  ASSERT_NE(backbone, nullptr);
  absl::StatusOr<TorchScriptBackbone::Output> clip =
      backbone->Forward(ReferenceTensor("clip_input"));
  ASSERT_TRUE(clip.ok()) << clip.status();
  EXPECT_LE(MaxAbsDiff(clip->features, ReferenceTensor("clip_features")), 1e-5);
  EXPECT_LE(MaxAbsDiff(clip->logits, ReferenceTensor("clip_logits")), 1e-5);
  EXPECT_LE(MaxAbsDiff(clip->probabilities, torch::softmax(ReferenceTensor("clip_logits"), 1)),
            1e-6);

  // image_input repeat: the server never sends images; native does.
  EXPECT_EQ(backbone->Forward(ReferenceTensor("image_input")).status().code(),
            absl::StatusCode::kInvalidArgument);
  json native = BaseConfig();
  native["image_input"] = "native";
  absl::StatusOr<BackboneConfig> native_config = Parse(native);
  ASSERT_TRUE(native_config.ok()) << native_config.status();
  std::unique_ptr<TorchScriptBackbone> native_backbone = LoadBackbone(*native_config);
  ASSERT_NE(native_backbone, nullptr);
  absl::StatusOr<TorchScriptBackbone::Output> image =
      native_backbone->Forward(ReferenceTensor("image_input"));
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_LE(MaxAbsDiff(image->features, ReferenceTensor("image_features")), 1e-5);
  EXPECT_LE(MaxAbsDiff(image->logits, ReferenceTensor("image_logits")), 1e-5);
}

// The head the config names is the one that produced the model's logits,
// so personalization's Classify agrees with the model.
TEST(TorchScriptBackboneTest, HeadReproducesTheModelsLogits) {
  absl::StatusOr<BackboneConfig> config = ReadBackboneConfig(ConfigPath());
  ASSERT_TRUE(config.ok()) << config.status();
  std::unique_ptr<TorchScriptBackbone> backbone = LoadBackbone(*config);
  ASSERT_NE(backbone, nullptr);
  const LinearLayerWeights& head = backbone->head();
  ASSERT_EQ(head.classes, 5);
  ASSERT_EQ(head.dim, 64);
  const torch::Tensor w = torch::from_blob(const_cast<float*>(head.weight.data()), {5, 64});
  const torch::Tensor b = torch::from_blob(const_cast<float*>(head.bias.data()), {5});
  const torch::Tensor logits = torch::addmm(b, ReferenceTensor("clip_features"), w.t());
  EXPECT_LE(MaxAbsDiff(logits, ReferenceTensor("clip_logits")), 1e-5);
}

TEST(TorchScriptBackboneTest, WrongInputShapeIsRefused) {
  absl::StatusOr<BackboneConfig> config = ReadBackboneConfig(ConfigPath());
  ASSERT_TRUE(config.ok()) << config.status();
  std::unique_ptr<TorchScriptBackbone> backbone = LoadBackbone(*config);
  ASSERT_NE(backbone, nullptr);
  const absl::Status status = backbone->Forward(torch::zeros({1, 3, 3, 32, 32})).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("[B, 4, 3, 32, 32]"), std::string::npos) << status;
}

struct BadConfig {
  const char* what;
  std::function<void(json&)> edit;
  const char* field;  // must appear in the error
};

TEST(TorchScriptBackboneTest, InvalidConfigsFailWithTheField) {
  const std::vector<BadConfig> cases = {
      {"no name", [](json& c) { c.erase("name"); }, "\"name\": missing"},
      {"no model file", [](json& c) { c.erase("model_file"); }, "\"model_file\": missing"},
      {"missing model file", [](json& c) { c["model_file"] = "nope.pt"; }, "\"model_file\""},
      {"not TorchScript", [](json& c) { c["model_file"] = "reference.json"; },
       "cannot load TorchScript model"},
      {"input size", [](json& c) { c["input_size"] = 0; }, "\"input_size\""},
      {"input size text", [](json& c) { c["input_size"] = "32"; }, "\"input_size\""},
      {"frames", [](json& c) { c["frames"] = 0; }, "\"frames\""},
      {"stride", [](json& c) { c["stride"] = -1; }, "\"stride\""},
      {"image input", [](json& c) { c["image_input"] = "tile"; }, "\"image_input\""},
      {"mean",
       [](json& c) {
         c["mean"] = json::array({0.5, 0.5});
       },
       "\"mean\""},
      {"std",
       [](json& c) {
         c["std"] = json::array({0.5, 0, 0.5});
       },
       "\"std\""},
      {"no labels", [](json& c) { c.erase("labels"); }, "\"labels\": missing"},
      {"one label", [](json& c) { c["labels"] = json::array({"neutral"}); }, "\"labels\""},
      {"duplicate label", [](json& c) { c["labels"][1] = "neutral"; }, "appears twice"},
      {"empty label", [](json& c) { c["labels"][0] = ""; }, "non-empty string"},
      {"no outputs", [](json& c) { c.erase("outputs"); }, "\"outputs\": missing"},
      {"no logits", [](json& c) { c["outputs"].erase("logits"); }, "\"outputs\""},
      {"bad output ref", [](json& c) { c["outputs"]["features"] = -1; }, "\"outputs.features\""},
      {"logits and probabilities",
       [](json& c) { c["outputs"]["probabilities"] = c["outputs"]["logits"]; }, "exactly one of"},
      {"scores are the features",
       [](json& c) { c["outputs"]["logits"] = c["outputs"]["features"]; }, "different outputs"},
      {"no head", [](json& c) { c.erase("head"); }, "\"head\": missing"},
      // Checked against the model at load:
      {"unknown output key", [](json& c) { c["outputs"]["features"] = "pooled"; },
       "\"outputs.features\""},
      {"tuple index on a dict", [](json& c) { c["outputs"]["logits"] = 1; }, "\"outputs.logits\""},
      {"unknown head", [](json& c) { c["head"]["weight"] = "classifier.weight"; },
       "\"head.weight\""},
      {"head not a tensor", [](json& c) { c["head"]["bias"] = "video_head"; }, "\"head.bias\""},
      {"feature dim", [](json& c) { c["feature_dim"] = 128; }, "\"head.weight\""},
      {"label count", [](json& c) { c["labels"].push_back("contempt"); }, "\"head.weight\""},
      {"wrong input size", [](json& c) { c["input_size"] = 48; }, "dry run"},
  };
  for (const BadConfig& bad : cases) {
    json config = BaseConfig();
    bad.edit(config);
    const absl::Status status = LoadStatus(config);
    EXPECT_FALSE(status.ok()) << bad.what;
    EXPECT_NE(status.message().find(bad.field), std::string::npos)
        << bad.what << ": " << status.message();
  }
  // Not JSON at all.
  EXPECT_EQ(ParseBackboneConfig("{", "").status().code(), absl::StatusCode::kInvalidArgument);
  // The file name prefixes errors read from a file.
  const absl::Status missing = ReadBackboneConfig("/nonexistent/model.json").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
}

TEST(TorchScriptBackboneTest, SampleClipRepeatsAndResamples) {
  std::vector<RgbImage> crops;
  for (int i = 1; i <= 2; ++i) {
    RgbImage crop;
    crop.width = i;
    crop.height = 1;
    crop.pixels.assign(static_cast<size_t>(i) * 3, 0);
    crops.push_back(crop);
  }
  std::vector<int> widths;
  for (const RgbImage& c : SampleClip({crops[0]}, 4)) widths.push_back(c.width);
  EXPECT_EQ(widths, (std::vector<int>{1, 1, 1, 1}));
  widths.clear();
  for (const RgbImage& c : SampleClip(crops, 4)) widths.push_back(c.width);
  EXPECT_EQ(widths, (std::vector<int>{1, 1, 2, 2}));
}

// The whole analyzer: face-api finds and aligns the faces, the clip model
// classifies them; a single crop is a one-frame clip repeated to T frames.
class BackboneFaceAnalyzerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    FaceAnalyzerConfig base;
    base.model_dir = testing::ModelDir();
    absl::StatusOr<std::unique_ptr<BackboneFaceAnalyzer>> analyzer =
        BackboneFaceAnalyzer::Load(base, ConfigPath());
    ASSERT_TRUE(analyzer.ok()) << analyzer.status();
    analyzer_ = analyzer->release();
  }
  static void TearDownTestSuite() { delete analyzer_; }

  static BackboneFaceAnalyzer* analyzer_;
};

BackboneFaceAnalyzer* BackboneFaceAnalyzerTest::analyzer_ = nullptr;

TEST_F(BackboneFaceAnalyzerTest, ReportsTheModel) {
  ASSERT_NE(analyzer_, nullptr);
  EXPECT_EQ(analyzer_->backbone_id(), "tiny-unilearn-vitmoe-test");
  EXPECT_EQ(analyzer_->feature_dim(), 64);
  EXPECT_EQ(analyzer_->input_size(), 32);
  EXPECT_EQ(analyzer_->clip_frames(), 4);
  EXPECT_EQ(analyzer_->clip_stride(), 2);
  EXPECT_EQ(analyzer_->labels().size(), 5u);
  EXPECT_EQ(analyzer_->device_name(), "cpu");
}

TEST_F(BackboneFaceAnalyzerTest, AnalyzesFacesWithTheClipModel) {
  ASSERT_NE(analyzer_, nullptr);
  absl::StatusOr<RgbImage> image = ReadImageFile(testing::DemoPhoto(6));
  ASSERT_TRUE(image.ok()) << image.status();
  AnalyzeOptions options;
  absl::StatusOr<std::vector<FaceAnalysis>> faces = analyzer_->Analyze(*image, options);
  ASSERT_TRUE(faces.ok()) << faces.status();
  ASSERT_EQ(faces->size(), 4u);
  std::vector<std::vector<RgbImage>> clips;
  for (const FaceAnalysis& face : *faces) {
    ASSERT_EQ(face.probabilities.size(), 5u);
    ASSERT_EQ(face.features.size(), 64u);
    EXPECT_NEAR(std::accumulate(face.probabilities.begin(), face.probabilities.end(), 0.0), 1.0,
                1e-5);
    EXPECT_EQ(face.landmarks.size(), 68u);
    const RgbImage crop = CropFace(*image, face.aligned_box);
    ASSERT_FALSE(crop.empty());
    clips.push_back({crop, crop, crop, crop});
  }
  // A face served alone is the clip of its crop repeated to 4 frames, and
  // the head on its features gives its probabilities.
  absl::StatusOr<BackboneOutput> repeated = analyzer_->RunClips(clips);
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  absl::StatusOr<std::vector<float>> classified = analyzer_->Classify(repeated->features, 4);
  ASSERT_TRUE(classified.ok()) << classified.status();
  for (size_t k = 0; k < faces->size(); ++k) {
    for (size_t j = 0; j < 64; ++j) {
      EXPECT_NEAR((*faces)[k].features[j], repeated->features[k * 64 + j], 1e-5);
    }
    for (size_t j = 0; j < 5; ++j) {
      EXPECT_NEAR((*faces)[k].probabilities[j], repeated->probabilities[k * 5 + j], 1e-5);
      EXPECT_NEAR((*classified)[k * 5 + j], repeated->probabilities[k * 5 + j], 1e-5);
    }
  }
  // Different faces, different answers.
  EXPECT_GT(std::abs((*faces)[0].features[0] - (*faces)[1].features[0]) +
                std::abs((*faces)[0].features[1] - (*faces)[1].features[1]),
            1e-4);
}

TEST_F(BackboneFaceAnalyzerTest, ClipsOfDifferentFramesDiffer) {
  ASSERT_NE(analyzer_, nullptr);
  absl::StatusOr<RgbImage> a = ReadImageFile(testing::DemoPhoto(1));
  absl::StatusOr<RgbImage> b = ReadImageFile(testing::DemoPhoto(2));
  ASSERT_TRUE(a.ok() && b.ok());
  absl::StatusOr<BackboneOutput> out = analyzer_->RunClips({{*a, *a, *b, *b}, {*a}, {*b}});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->batch, 3);
  ASSERT_EQ(out->probabilities.size(), 15u);
  double diff = 0;
  for (size_t j = 0; j < 5; ++j)
    diff += std::abs(out->probabilities[j] - out->probabilities[5 + j]);
  EXPECT_GT(diff, 1e-4);
  EXPECT_EQ(analyzer_->RunClips(std::vector<std::vector<RgbImage>>(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fer
