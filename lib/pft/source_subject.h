#ifndef FERSERVE_LIB_PFT_SOURCE_SUBJECT_H_
#define FERSERVE_LIB_PFT_SOURCE_SUBJECT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace fer::pft {

// Points per face in the landmark layout pairing uses (iBUG 68, face-api's).
inline constexpr int kNumLandmarks = 68;

// One labelled source subject for PFT pre-training: backbone features of
// `count` frames, with their labels, landmarks and optional head pose.
struct SourceSubject {
  std::string id;
  int count = 0;
  std::vector<float> features;   // count x dim, row-major
  std::vector<int> labels;       // count head label indices
  std::vector<float> landmarks;  // count x 68 x (x, y); may be empty unless pairing by landmarks
  std::vector<float> pose;       // count x (yaw, pitch, roll) in degrees; optional (empty)

  // OK when every field present has the size `count` and `dim` ask for and
  // labels are in [0, num_classes).
  absl::Status Validate(int dim, int num_classes) const;
};

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_SOURCE_SUBJECT_H_
