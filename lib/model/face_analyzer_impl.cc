#include "lib/model/face_analyzer_impl.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/model/linear_softmax.h"
#include "lib/model/status_macros.h"
#include "lib/model/torch_device.h"

namespace fer {
namespace face_api {

BoxD ForSize(const BoxD& box, int image_width, int image_height) {
  // relativeBox = box.rescale(imageDims.reverse()); new FaceDetection(...,
  // relativeBox, {w, h}).box = relativeBox.rescale({w, h}).
  const double w = image_width, h = image_height;
  const double inv_w = 1 / w, inv_h = 1 / h;
  const BoxD relative{box.x * inv_w, box.y * inv_h, box.width * inv_w, box.height * inv_h};
  return {relative.x * w, relative.y * h, relative.width * w, relative.height * h};
}

PixelRect ClipAtImageBorders(const BoxD& box, int image_width, int image_height) {
  if (!std::isfinite(box.x) || !std::isfinite(box.y) || !std::isfinite(box.width) ||
      !std::isfinite(box.height)) {
    return {};  // empty
  }
  const double right = box.x + box.width;
  const double bottom = box.y + box.height;
  const double x = std::max(box.x, 0.0);
  const double y = std::max(box.y, 0.0);
  const double width = std::min(right - x, image_width - x);
  const double height = std::min(bottom - y, image_height - y);
  auto floor_int = [](double v) {
    return static_cast<int>(std::clamp(std::floor(v), double{std::numeric_limits<int>::min()},
                                       double{std::numeric_limits<int>::max()}));
  };
  return {floor_int(x), floor_int(y), floor_int(width), floor_int(height)};
}

PixelRect FaceCropRect(const BoxD& box, int image_width, int image_height) {
  return ClipAtImageBorders(ForSize(box, image_width, image_height), image_width, image_height);
}

BoxD AlignMinBbox(const std::vector<PointD>& positions) {
  double min_x = std::numeric_limits<double>::infinity(), min_y = min_x;
  double max_x = 0, max_y = 0;
  for (const PointD& p : positions) {
    if (p.x < min_x) min_x = p.x;
    if (p.y < min_y) min_y = p.y;
    if (max_x < p.x) max_x = p.x;
    if (max_y < p.y) max_y = p.y;
  }
  const BoxD box{min_x, min_y, max_x - min_x, max_y - min_y};
  // box.pad(box.width * 0.2, box.height * 0.2).
  const double pad_x = box.width * 0.2, pad_y = box.height * 0.2;
  return {box.x - pad_x / 2, box.y - pad_y / 2, box.width + pad_x, box.height + pad_y};
}

std::vector<PointD> ShiftedLandmarks(const float* relative, const CropSize& crop, PointD shift) {
  const double w = crop.width, h = crop.height;
  std::vector<PointD> points(FaceLandmarkNet::kNumPoints);
  for (int i = 0; i < FaceLandmarkNet::kNumPoints; ++i) {
    // new FaceLandmarks68(relative points, crop dims): positions = rel * dims + 0.
    volatile double x = relative[2 * i] * w;
    volatile double y = relative[2 * i + 1] * h;
    // shiftBy(shift): relativePositions = (positions - 0) / dims, then
    // positions = relativePositions * dims + shift.
    volatile double rx = x / w * w;
    volatile double ry = y / h * h;
    points[i] = {rx + shift.x, ry + shift.y};
  }
  return points;
}

}  // namespace face_api

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Face crops per network call: bounds memory on images with many faces.
constexpr size_t kMaxBatch = 64;

absl::Status ValidateImage(const RgbImage& image) {
  if (image.empty()) return absl::InvalidArgumentError("empty image");
  if (image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image of ", image.width, "x", image.height, " has ", image.pixels.size(),
        " bytes of pixels, expected ", static_cast<size_t>(image.width) * image.height * 3));
  }
  return absl::OkStatus();
}

// A copy of the region's pixels.
RgbImage CropRegion(const ImageRegion& region) {
  const PixelRect& r = region.rect;
  RgbImage crop{r.width, r.height,
                std::vector<uint8_t>(static_cast<size_t>(r.width) * r.height * 3)};
  for (int y = 0; y < r.height; ++y) {
    std::memcpy(crop.pixels.data() + static_cast<size_t>(y) * r.width * 3,
                region.image->row(r.y + y) + static_cast<size_t>(r.x) * 3,
                static_cast<size_t>(r.width) * 3);
  }
  return crop;
}

std::vector<float> ToVector(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

absl::StatusOr<std::unique_ptr<FaceAnalyzerImpl>> FaceAnalyzerImpl::Create(
    const FaceAnalyzerConfig& config, std::unique_ptr<FaceDetector> detector) {
  FER_ASSIGN_OR_RETURN(torch::Device device, ToTorchDevice(config.device));
  RequireFullFloat32(device);
  FER_ASSIGN_OR_RETURN(FaceLandmarkNet landmark_net,
                       FaceLandmarkNet::Load(config.model_dir, device, config.device.cpu_kernels));
  FER_ASSIGN_OR_RETURN(
      FaceExpressionNet expression_net,
      FaceExpressionNet::Load(config.model_dir, device, config.device.cpu_kernels));
  return std::unique_ptr<FaceAnalyzerImpl>(new FaceAnalyzerImpl(
      device, std::move(detector), std::move(landmark_net), std::move(expression_net)));
}

std::string FaceAnalyzerImpl::backbone_id() const {
  return absl::StrCat("face-api-1.7.15/", FaceExpressionNet::kModelName);
}

std::string FaceAnalyzerImpl::detector_name() const {
  return detector_ ? detector_->name() : std::string("none");
}

torch::Tensor FaceAnalyzerImpl::RelativeLandmarks(const std::vector<ImageRegion>& regions) const {
  std::vector<torch::Tensor> parts;
  for (size_t begin = 0; begin < regions.size(); begin += kMaxBatch) {
    const size_t end = std::min(regions.size(), begin + kMaxBatch);
    const std::vector<ImageRegion> chunk(regions.begin() + begin, regions.begin() + end);
    std::vector<CropSize> sizes;
    for (const ImageRegion& r : chunk) sizes.push_back({r.rect.width, r.rect.height});
    parts.push_back(landmark_net_.DetectRelative(
        CropsToBatchTensor(chunk, FaceFeatureExtractor::kInputSize), sizes));
  }
  if (parts.empty()) return torch::empty({0, 2 * FaceLandmarkNet::kNumPoints});
  return torch::cat(parts);
}

FaceExpressionNet::Output FaceAnalyzerImpl::Expressions(
    const std::vector<ImageRegion>& regions) const {
  std::vector<torch::Tensor> features, probabilities;
  for (size_t begin = 0; begin < regions.size(); begin += kMaxBatch) {
    const size_t end = std::min(regions.size(), begin + kMaxBatch);
    const std::vector<ImageRegion> chunk(regions.begin() + begin, regions.begin() + end);
    FaceExpressionNet::Output out =
        expression_net_.Forward(CropsToBatchTensor(chunk, FaceFeatureExtractor::kInputSize));
    features.push_back(out.features.to(torch::kCPU));
    probabilities.push_back(out.probabilities.to(torch::kCPU));
  }
  FaceExpressionNet::Output out;
  if (regions.empty()) {
    out.features = torch::empty({0, FaceFeatureExtractor::kFeatureDim});
    out.probabilities = torch::empty({0, static_cast<int64_t>(labels().size())});
  } else {
    out.features = torch::cat(features).contiguous();
    out.probabilities = torch::cat(probabilities).contiguous();
  }
  return out;
}

absl::StatusOr<std::vector<FaceDetection>> FaceAnalyzerImpl::Detect(
    const RgbImage& image, const AnalyzeOptions& options) const {
  FER_RETURN_IF_ERROR(ValidateImage(image));
  if (options.timings != nullptr) options.timings->detection = 0;
  if (options.detections != nullptr) return *options.detections;
  if (!detector_) return absl::FailedPreconditionError("FaceAnalyzer has no face detector");
  const Clock::time_point start = Clock::now();
  FER_ASSIGN_OR_RETURN(std::vector<FaceDetection> detections,
                       detector_->Detect(image, options.detect));
  if (options.timings != nullptr) options.timings->detection = SecondsSince(start);
  return detections;
}

absl::StatusOr<std::vector<FaceAnalysis>> FaceAnalyzerImpl::Analyze(const RgbImage& image,
                                                                    const AnalyzeOptions& options) {
  FER_ASSIGN_OR_RETURN(std::vector<FaceDetection> detections, Detect(image, options));
  return AnalyzeDetections(image, detections, options.with_features, options.timings);
}

absl::Status FaceAnalyzerImpl::LocateDetections(const RgbImage& image,
                                                const std::vector<FaceDetection>& detections,
                                                std::vector<FaceAnalysis>* faces,
                                                std::vector<ImageRegion>* aligned_regions) const {
  FER_RETURN_IF_ERROR(ValidateImage(image));
  const int width = image.width, height = image.height;

  // DetectAllFaceLandmarksTask: crop each detection, 68 landmarks per crop.
  std::vector<size_t> kept;
  std::vector<ImageRegion> regions;
  for (size_t i = 0; i < detections.size(); ++i) {
    const Box& b = detections[i].box;
    const PixelRect rect = face_api::FaceCropRect({b.x, b.y, b.width, b.height}, width, height);
    if (rect.empty()) continue;
    kept.push_back(i);
    regions.push_back({&image, rect});
  }
  const torch::Tensor relative = RelativeLandmarks(regions);
  const float* rel = relative.data_ptr<float>();

  // extendWithFaceLandmarks: shift to the image, alignedRect from the
  // landmarks; then extractAllFacesAndComputeResults crops alignedRect.
  for (size_t k = 0; k < kept.size(); ++k) {
    const FaceDetection& detection = detections[kept[k]];
    const CropSize crop{regions[k].rect.width, regions[k].rect.height};
    const std::vector<face_api::PointD> points = face_api::ShiftedLandmarks(
        rel + k * 2 * FaceLandmarkNet::kNumPoints, crop, {detection.box.x, detection.box.y});
    // alignedRect = new FaceDetection(score, rect.rescale(dims.reverse()), dims).
    const face_api::BoxD aligned = face_api::ForSize(face_api::AlignMinBbox(points), width, height);
    const PixelRect rect = face_api::FaceCropRect(aligned, width, height);
    if (rect.empty()) continue;
    FaceAnalysis face;
    face.detection = detection;
    face.landmarks.reserve(points.size());
    for (const face_api::PointD& p : points) {
      face.landmarks.push_back({static_cast<float>(p.x), static_cast<float>(p.y)});
    }
    face.aligned_box = {static_cast<float>(aligned.x), static_cast<float>(aligned.y),
                        static_cast<float>(aligned.width), static_cast<float>(aligned.height)};
    faces->push_back(std::move(face));
    aligned_regions->push_back({&image, rect});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FaceAnalysis>> FaceAnalyzerImpl::AnalyzeDetections(
    const RgbImage& image, const std::vector<FaceDetection>& detections, bool with_features,
    AnalyzeTimings* timings) {
  Clock::time_point start = Clock::now();
  std::vector<FaceAnalysis> faces;
  std::vector<ImageRegion> aligned_regions;
  FER_RETURN_IF_ERROR(LocateDetections(image, detections, &faces, &aligned_regions));
  if (timings != nullptr) timings->landmarks = SecondsSince(start);

  // PredictAllFaceExpressionsTask on the aligned crops.
  start = Clock::now();
  const FaceExpressionNet::Output out = Expressions(aligned_regions);
  const int classes = static_cast<int>(labels().size());
  const int dim = feature_dim();
  const float* probabilities = out.probabilities.data_ptr<float>();
  const float* features = out.features.data_ptr<float>();
  for (size_t k = 0; k < faces.size(); ++k) {
    faces[k].probabilities.assign(probabilities + k * classes, probabilities + (k + 1) * classes);
    if (with_features) faces[k].features.assign(features + k * dim, features + (k + 1) * dim);
  }
  if (timings != nullptr) timings->backbone = SecondsSince(start);
  return faces;
}

absl::StatusOr<std::vector<LocatedFace>> FaceAnalyzerImpl::Locate(const RgbImage& image,
                                                                  const AnalyzeOptions& options) {
  FER_ASSIGN_OR_RETURN(std::vector<FaceDetection> detections, Detect(image, options));
  const Clock::time_point start = Clock::now();
  std::vector<FaceAnalysis> faces;
  std::vector<ImageRegion> aligned_regions;
  FER_RETURN_IF_ERROR(LocateDetections(image, detections, &faces, &aligned_regions));
  std::vector<LocatedFace> located(faces.size());
  for (size_t k = 0; k < faces.size(); ++k) {
    located[k].analysis = std::move(faces[k]);
    located[k].crop = CropRegion(aligned_regions[k]);
  }
  if (options.timings != nullptr) options.timings->landmarks = SecondsSince(start);
  return located;
}

absl::StatusOr<BackboneOutput> FaceAnalyzerImpl::RunBackbone(const std::vector<RgbImage>& crops) {
  std::vector<ImageRegion> regions;
  for (size_t i = 0; i < crops.size(); ++i) {
    const absl::Status valid = ValidateImage(crops[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("crop ", i, ": ", valid.message()));
    }
    regions.push_back(WholeImage(crops[i]));
  }
  const FaceExpressionNet::Output out = Expressions(regions);
  BackboneOutput result;
  result.batch = static_cast<int>(crops.size());
  result.probabilities = ToVector(out.probabilities);
  result.features = ToVector(out.features);
  return result;
}

absl::StatusOr<std::vector<float>> FaceAnalyzerImpl::Classify(const std::vector<float>& features,
                                                              int batch) {
  if (expression_net_.device().is_cpu()) {
    return LinearSoftmax(expression_net_.Head(), features, batch);
  }
  if (batch < 0 || features.size() != static_cast<size_t>(batch) * feature_dim()) {
    return absl::InvalidArgumentError(absl::StrCat(features.size(), " feature values are not ",
                                                   batch, " x ", feature_dim(), " features"));
  }
  if (batch == 0) return std::vector<float>();
  const torch::Tensor input = torch::from_blob(const_cast<float*>(features.data()),
                                               {batch, feature_dim()}, torch::kFloat32);
  return ToVector(expression_net_.Classify(input));
}

}  // namespace fer
