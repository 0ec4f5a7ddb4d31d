#include "lib/serving/model_warmup.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/serving/model_call.h"

namespace fer {
namespace {

// A smooth colour gradient: the networks' cost does not depend on what the
// pixels show, and a frame without a face keeps the detector's output small.
RgbImage GradientImage(int width, int height) {
  RgbImage image;
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &image.pixels[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(64 + 128 * x / width);
      p[1] = static_cast<uint8_t>(64 + 128 * y / height);
      p[2] = 128;
    }
  }
  return image;
}

// Runs fn (returning absl::StatusOr<T>) as CallModel does and appends its
// step to `steps` when it succeeded. An error names the step: CallModel's
// own do; others (also a model error that the batcher's thread reported)
// get it in front.
template <typename Fn>
absl::Status TimedStep(const std::string& what, Fn&& fn, std::vector<WarmupStep>* steps) {
  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = CallModel(what, std::forward<Fn>(fn)).status();
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (!status.ok()) {
    if (absl::StartsWith(status.message(), what)) return status;
    return absl::Status(status.code(), absl::StrCat(what, ": ", status.message()));
  }
  steps->push_back({what, elapsed.count()});
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<WarmupStep>> WarmUpModels(FaceAnalyzer& analyzer,
                                                     const BackboneRunner& run_backbone,
                                                     const std::vector<int>& backbone_batches) {
  std::vector<WarmupStep> steps;
  const RgbImage frame = GradientImage(640, 480);
  absl::Status status = TimedStep(
      "face detection",
      [&] {
        AnalyzeOptions options;
        options.with_features = false;
        return analyzer.Locate(frame, options);
      },
      &steps);
  if (!status.ok()) return status;

  const std::vector<FaceDetection> box = {{Box{200, 120, 240, 240}, 1.0f}};
  status = TimedStep(
      "face landmarks",
      [&] {
        AnalyzeOptions options;
        options.with_features = false;
        options.detections = &box;
        return analyzer.Locate(frame, options);
      },
      &steps);
  if (!status.ok()) return status;

  const RgbImage crop = GradientImage(160, 160);
  std::vector<int> warmed;
  for (const int batch : backbone_batches) {
    if (batch < 1 || std::find(warmed.begin(), warmed.end(), batch) != warmed.end()) continue;
    warmed.push_back(batch);
    status = TimedStep(
        absl::StrCat("the backbone at batch ", batch),
        [&] { return run_backbone(std::vector<RgbImage>(batch, crop)); }, &steps);
    if (!status.ok()) return status;
  }
  if (analyzer.clip_frames() > 1) {
    status = TimedStep(
        "the clip backbone",
        [&] { return analyzer.RunClips({std::vector<RgbImage>(analyzer.clip_frames(), crop)}); },
        &steps);
    if (!status.ok()) return status;
  }
  status = TimedStep(
      "the expression head",
      [&] { return analyzer.Classify(std::vector<float>(analyzer.feature_dim(), 0.0f), 1); },
      &steps);
  if (!status.ok()) return status;
  return steps;
}

std::string DescribeWarmup(const std::vector<WarmupStep>& steps) {
  std::string out;
  for (const WarmupStep& step : steps) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", step.what,
                    absl::StrFormat(" %.0f ms", step.seconds * 1e3));
  }
  return out;
}

}  // namespace fer
