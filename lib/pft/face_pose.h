#ifndef FERSERVE_LIB_PFT_FACE_POSE_H_
#define FERSERVE_LIB_PFT_FACE_POSE_H_

#include <optional>
#include <vector>

#include "lib/model/face_types.h"

namespace fer::pft {

// Head pose in degrees, as landmark pairing compares it between subjects.
struct FacePose {
  float yaw = 0;    // positive: nose tip right of the eye midpoint in the image
  float pitch = 0;  // positive: head tilted back (nose tip moved up)
  float roll = 0;   // positive: the eye line turned clockwise in the image
};

// A rough yaw/pitch/roll from 68 iBUG landmarks, for comparing subjects'
// typical poses (not for geometry). Roll and the yaw ratio are the
// enrollment checks' (lib/model/head_pose.h); the
// ratios become angles with an average face's depths: the nose tip sits
// ~0.6 inter-ocular distances in front of the eyes, so yaw = atan(ratio /
// 0.6); its height between the eye line and the chin is ~0.41 of the
// eye-chin distance when frontal and moves by ~0.32 · tan(pitch). nullopt
// when the landmarks give no pose.
std::optional<FacePose> EstimateFacePose(const std::vector<Point>& landmarks);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_FACE_POSE_H_
