#ifndef FERSERVE_LIB_MODEL_HEAD_POSE_H_
#define FERSERVE_LIB_MODEL_HEAD_POSE_H_

#include <optional>
#include <vector>

#include "lib/model/face_types.h"

namespace fer {

// Yaw (the nose tip's offset from the eye midpoint along the eye line,
// relative to the inter-ocular distance; positive: nose right of the eye
// midpoint in the image) and roll (degrees; positive: the right eye in the
// image lower), from 68 iBUG landmarks.
struct HeadPose {
  double yaw = 0;
  double roll_degrees = 0;
};

// nullopt for another landmark count or coincident eyes.
std::optional<HeadPose> EstimateHeadPose(const std::vector<Point>& landmarks);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_HEAD_POSE_H_
