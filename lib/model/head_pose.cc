#include "lib/model/head_pose.h"

#include <cmath>

namespace fer {
namespace {

constexpr double kPi = 3.14159265358979323846;

Point Mean(const std::vector<Point>& points, int begin, int end) {
  Point m;
  for (int i = begin; i < end; ++i) {
    m.x += points[i].x;
    m.y += points[i].y;
  }
  m.x /= static_cast<float>(end - begin);
  m.y /= static_cast<float>(end - begin);
  return m;
}

}  // namespace

std::optional<HeadPose> EstimateHeadPose(const std::vector<Point>& landmarks) {
  if (landmarks.size() != 68) return std::nullopt;
  // iBUG 300-W: 36..41 the eye on the image's left, 42..47 the other, 30 the
  // nose tip.
  const Point left = Mean(landmarks, 36, 42);
  const Point right = Mean(landmarks, 42, 48);
  const double dx = right.x - left.x;
  const double dy = right.y - left.y;
  const double inter_ocular = std::hypot(dx, dy);
  if (!(inter_ocular > 1e-3)) return std::nullopt;
  const double mid_x = (left.x + right.x) / 2.0;
  const double mid_y = (left.y + right.y) / 2.0;
  // The nose tip's offset from the eye midpoint along the eye line.
  const double along =
      ((landmarks[30].x - mid_x) * dx + (landmarks[30].y - mid_y) * dy) / inter_ocular;
  HeadPose pose;
  pose.yaw = along / inter_ocular;
  pose.roll_degrees = std::atan2(dy, dx) * 180.0 / kPi;
  return pose;
}

}  // namespace fer
