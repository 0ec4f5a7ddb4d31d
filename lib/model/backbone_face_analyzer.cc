#include "lib/model/backbone_face_analyzer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/model/face_detector.h"
#include "lib/model/linear_softmax.h"
#include "lib/model/status_macros.h"

namespace fer {
namespace {

// Clips per model call: bounds memory on images with many faces.
constexpr size_t kMaxBatch = 16;

std::vector<float> ToVector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

RgbImage CropFace(const RgbImage& image, const Box& aligned_box) {
  const PixelRect rect =
      face_api::FaceCropRect({aligned_box.x, aligned_box.y, aligned_box.width, aligned_box.height},
                             image.width, image.height);
  RgbImage crop;
  if (rect.empty()) return crop;
  crop.width = rect.width;
  crop.height = rect.height;
  crop.pixels.resize(static_cast<size_t>(rect.width) * rect.height * 3);
  for (int y = 0; y < rect.height; ++y) {
    std::memcpy(crop.pixels.data() + static_cast<size_t>(y) * rect.width * 3,
                image.row(rect.y + y) + static_cast<size_t>(rect.x) * 3,
                static_cast<size_t>(rect.width) * 3);
  }
  return crop;
}

absl::StatusOr<std::unique_ptr<BackboneFaceAnalyzer>> BackboneFaceAnalyzer::Load(
    const FaceAnalyzerConfig& base, const std::string& config_path) {
  FER_ASSIGN_OR_RETURN(BackboneConfig config, ReadBackboneConfig(config_path));
  absl::StatusOr<std::unique_ptr<TorchScriptBackbone>> backbone =
      TorchScriptBackbone::Load(config, base.device);
  if (!backbone.ok()) {
    return absl::Status(backbone.status().code(),
                        absl::StrCat(config_path, ": ", backbone.status().message()));
  }
  FER_ASSIGN_OR_RETURN(std::unique_ptr<FaceDetector> detector,
                       LoadFaceDetector(base.detector, base.model_dir, base.device));
  FER_ASSIGN_OR_RETURN(std::unique_ptr<FaceAnalyzerImpl> locator,
                       FaceAnalyzerImpl::Create(base, std::move(detector)));
  return std::make_unique<BackboneFaceAnalyzer>(std::move(locator), *std::move(backbone));
}

BackboneFaceAnalyzer::BackboneFaceAnalyzer(std::unique_ptr<FaceAnalyzerImpl> locator,
                                           std::unique_ptr<TorchScriptBackbone> backbone)
    : locator_(std::move(locator)), backbone_(std::move(backbone)) {}

absl::StatusOr<std::vector<FaceAnalysis>> BackboneFaceAnalyzer::Analyze(
    const RgbImage& image, const AnalyzeOptions& options) {
  FER_ASSIGN_OR_RETURN(std::vector<LocatedFace> located, locator_->Locate(image, options));
  std::vector<FaceAnalysis> faces;
  if (located.empty()) return faces;
  const auto start = std::chrono::steady_clock::now();
  std::vector<RgbImage> crops;
  crops.reserve(located.size());
  for (LocatedFace& face : located) {
    faces.push_back(std::move(face.analysis));
    crops.push_back(std::move(face.crop));
  }
  FER_ASSIGN_OR_RETURN(BackboneOutput out, RunBackbone(crops));
  AttachBackboneOutput(out, labels().size(), static_cast<size_t>(feature_dim()),
                       options.with_features, &faces);
  if (options.timings != nullptr) {
    options.timings->backbone =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return faces;
}

absl::StatusOr<std::vector<LocatedFace>> BackboneFaceAnalyzer::Locate(
    const RgbImage& image, const AnalyzeOptions& options) {
  return locator_->Locate(image, options);
}

absl::StatusOr<BackboneOutput> BackboneFaceAnalyzer::RunBackbone(
    const std::vector<RgbImage>& crops) {
  std::vector<std::vector<RgbImage>> clips;
  clips.reserve(crops.size());
  for (const RgbImage& crop : crops) clips.push_back({crop});
  return RunClips(clips);
}

absl::StatusOr<BackboneOutput> BackboneFaceAnalyzer::RunClips(
    const std::vector<std::vector<RgbImage>>& clips) {
  const BackboneConfig& config = backbone_->config();
  for (size_t i = 0; i < clips.size(); ++i) {
    if (clips[i].empty()) return absl::InvalidArgumentError(absl::StrCat("clip ", i, " is empty"));
    for (const RgbImage& crop : clips[i]) {
      if (crop.empty() || crop.pixels.size() != static_cast<size_t>(crop.width) * crop.height * 3) {
        return absl::InvalidArgumentError(
            absl::StrCat("clip ", i, ": a crop is empty or its pixels do not match its size"));
      }
    }
  }
  BackboneOutput result;
  result.batch = static_cast<int>(clips.size());
  for (size_t begin = 0; begin < clips.size(); begin += kMaxBatch) {
    const size_t end = std::min(clips.size(), begin + kMaxBatch);
    // Single crops go in as images when the model takes them natively;
    // everything else as clips of `frames` crops.
    std::vector<std::vector<RgbImage>> images, videos;
    std::vector<size_t> image_rows, video_rows;
    for (size_t i = begin; i < end; ++i) {
      if (config.frames == 1 ||
          (clips[i].size() == 1 && config.image_input == ImageInput::kNative)) {
        images.push_back({clips[i].front()});
        image_rows.push_back(i);
      } else {
        videos.push_back(SampleClip(clips[i], config.frames));
        video_rows.push_back(i);
      }
    }
    for (int pass = 0; pass < 2; ++pass) {
      const auto& group = pass == 0 ? images : videos;
      if (group.empty()) continue;
      const int frames = pass == 0 ? 1 : config.frames;
      FER_ASSIGN_OR_RETURN(TorchScriptBackbone::Output out,
                           backbone_->Forward(backbone_->ClipsToTensor(group, frames)));
      const auto& rows = pass == 0 ? image_rows : video_rows;
      const std::vector<float> probabilities = ToVector(out.probabilities);
      const std::vector<float> features = ToVector(out.features);
      const size_t classes = labels().size(), dim = static_cast<size_t>(feature_dim());
      if (result.probabilities.empty()) {
        result.probabilities.resize(clips.size() * classes);
        result.features.resize(clips.size() * dim);
      }
      for (size_t r = 0; r < rows.size(); ++r) {
        std::copy(probabilities.begin() + r * classes, probabilities.begin() + (r + 1) * classes,
                  result.probabilities.begin() + rows[r] * classes);
        std::copy(features.begin() + r * dim, features.begin() + (r + 1) * dim,
                  result.features.begin() + rows[r] * dim);
      }
    }
  }
  return result;
}

absl::StatusOr<std::vector<float>> BackboneFaceAnalyzer::Classify(
    const std::vector<float>& features, int batch) {
  return LinearSoftmax(backbone_->head(), features, batch);
}

}  // namespace fer
