#include "lib/serving/enrollment_checks.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fer {

int NeutralLabelIndex(const std::vector<std::string>& labels) {
  const auto neutral = std::find(labels.begin(), labels.end(), "neutral");
  return neutral == labels.end() ? -1 : static_cast<int>(neutral - labels.begin());
}

double LaplacianVariance(const RgbImage& image, const Box& box) {
  if (image.empty()) return 0;
  const int x0 = std::clamp(static_cast<int>(std::floor(box.x)), 0, image.width);
  const int y0 = std::clamp(static_cast<int>(std::floor(box.y)), 0, image.height);
  const int x1 = std::clamp(static_cast<int>(std::ceil(box.x + box.width)), 0, image.width);
  const int y1 = std::clamp(static_cast<int>(std::ceil(box.y + box.height)), 0, image.height);
  if (x1 - x0 < 3 || y1 - y0 < 3) return 0;
  const cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat gray;
  cv::cvtColor(rgb(cv::Rect(x0, y0, x1 - x0, y1 - y0)), gray, cv::COLOR_RGB2GRAY);
  cv::Mat laplacian;
  cv::Laplacian(gray, laplacian, CV_64F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(laplacian, mean, stddev);
  return stddev[0] * stddev[0];
}

EnrollmentCheck CheckEnrollmentFrame(const std::vector<FaceAnalysis>& faces, const RgbImage& image,
                                     int neutral_index, const EnrollmentCheckOptions& options) {
  EnrollmentCheck check;
  if (faces.empty()) {
    check.verdict = EnrollmentVerdict::kNoFace;
    check.detail = "no face found";
    return check;
  }
  if (faces.size() > 1) {
    check.verdict = EnrollmentVerdict::kMultipleFaces;
    check.detail = absl::StrCat(faces.size(), " faces found, enrollment needs exactly one");
    return check;
  }
  const FaceAnalysis& face = faces.front();
  if (neutral_index >= 0 && neutral_index < static_cast<int>(face.probabilities.size())) {
    check.neutral_probability = face.probabilities[neutral_index];
  }
  const float height = face.detection.box.height;
  if (height < options.min_face_px) {
    check.verdict = EnrollmentVerdict::kFaceTooSmall;
    check.detail =
        absl::StrFormat("face %.0f px high, minimum %.0f px", height, options.min_face_px);
    return check;
  }
  const double sharpness = LaplacianVariance(image, face.detection.box);
  if (sharpness < options.min_sharpness) {
    check.verdict = EnrollmentVerdict::kTooBlurry;
    check.detail = absl::StrFormat("face sharpness (variance of the Laplacian) %.1f, minimum %.1f",
                                   sharpness, options.min_sharpness);
    return check;
  }
  const std::optional<HeadPose> pose = EstimateHeadPose(face.landmarks);
  if (!pose.has_value()) {
    check.verdict = EnrollmentVerdict::kHeadPoseTooLarge;
    check.detail = "head pose could not be estimated from the landmarks";
    return check;
  }
  if (std::abs(pose->yaw) > options.max_yaw) {
    check.verdict = EnrollmentVerdict::kHeadPoseTooLarge;
    check.detail =
        absl::StrFormat("head turned: yaw %.2f of the inter-ocular distance, maximum %.2f",
                        pose->yaw, options.max_yaw);
    return check;
  }
  if (std::abs(pose->roll_degrees) > options.max_roll_degrees) {
    check.verdict = EnrollmentVerdict::kHeadPoseTooLarge;
    check.detail = absl::StrFormat("head tilted: roll %.1f degrees, maximum %.1f",
                                   pose->roll_degrees, options.max_roll_degrees);
    return check;
  }
  if (!check.neutral_probability.has_value()) return check;
  const float neutral = *check.neutral_probability;
  if (neutral < options.min_neutral_probability) {
    check.verdict = EnrollmentVerdict::kNotNeutral;
    check.detail = absl::StrFormat(
        "the generic model finds this frame not neutral: neutral probability %.2f, minimum %.2f",
        neutral, options.min_neutral_probability);
  } else if (neutral < options.neutral_warning_below) {
    check.detail = absl::StrFormat(
        "warning: the generic model finds this frame not neutral (neutral probability %.2f)",
        neutral);
  }
  return check;
}

}  // namespace fer
