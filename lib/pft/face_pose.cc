#include "lib/pft/face_pose.h"

#include <cmath>

#include "lib/model/head_pose.h"

namespace fer::pft {
namespace {

constexpr double kDegreesPerRadian = 180.0 / 3.14159265358979323846;
constexpr double kNoseDepthPerInterOcular = 0.6;
constexpr double kFrontalNoseHeightShare = 0.41;
constexpr double kNoseDepthPerEyeChin = 0.32;

Point EyeMidpoint(const std::vector<Point>& p) {
  Point m;
  for (int i = 36; i < 48; ++i) {
    m.x += p[i].x / 12.0f;
    m.y += p[i].y / 12.0f;
  }
  return m;
}

}  // namespace

std::optional<FacePose> EstimateFacePose(const std::vector<Point>& landmarks) {
  const std::optional<HeadPose> head = EstimateHeadPose(landmarks);
  if (!head.has_value()) return std::nullopt;
  // Heights below the eye line, measured perpendicular to it.
  const double roll = head->roll_degrees / kDegreesPerRadian;
  const double nx = -std::sin(roll), ny = std::cos(roll);  // "down" in the face's frame
  const Point eyes = EyeMidpoint(landmarks);
  const double nose = (landmarks[30].x - eyes.x) * nx + (landmarks[30].y - eyes.y) * ny;
  const double chin = (landmarks[8].x - eyes.x) * nx + (landmarks[8].y - eyes.y) * ny;
  if (!(chin > 1e-3)) return std::nullopt;
  FacePose pose;
  pose.yaw =
      static_cast<float>(std::atan(head->yaw / kNoseDepthPerInterOcular) * kDegreesPerRadian);
  pose.pitch =
      static_cast<float>(std::atan((kFrontalNoseHeightShare - nose / chin) / kNoseDepthPerEyeChin) *
                         kDegreesPerRadian);
  pose.roll = static_cast<float>(head->roll_degrees);
  return pose;
}

}  // namespace fer::pft
