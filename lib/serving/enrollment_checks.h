#ifndef FERSERVE_LIB_SERVING_ENROLLMENT_CHECKS_H_
#define FERSERVE_LIB_SERVING_ENROLLMENT_CHECKS_H_

#include <optional>
#include <string>
#include <vector>

#include "lib/model/face_types.h"
#include "lib/model/head_pose.h"
#include "lib/vision/image.h"

namespace fer {

// Thresholds of the per-frame checks of neutral enrollment.
struct EnrollmentCheckOptions {
  // Smallest accepted face detection box height, in pixels.
  float min_face_px = 64;
  // Smallest accepted variance of the Laplacian of the grayscale face crop.
  double min_sharpness = 20;
  // Largest accepted |yaw|: horizontal offset of the nose tip from the
  // midpoint of the eye centres, relative to the inter-ocular distance.
  double max_yaw = 0.35;
  // Largest accepted |roll|: angle of the eye line, in degrees.
  double max_roll_degrees = 20;
  // Below this neutral probability a frame is rejected (kNotNeutral); 0
  // rejects none. Off by default: a user whose neutral face the generic model
  // reads as another expression is who personalization is for.
  float min_neutral_probability = 0;
  // Below this neutral probability an accepted frame carries a warning.
  float neutral_warning_below = 0.5f;
};

enum class EnrollmentVerdict {
  kAccepted,  // Possibly with a warning (a non-empty detail).
  kNoFace,
  kMultipleFaces,
  kFaceTooSmall,
  kTooBlurry,
  kHeadPoseTooLarge,
  kNotNeutral,
};

struct EnrollmentCheck {
  EnrollmentVerdict verdict = EnrollmentVerdict::kAccepted;
  // Why a frame was rejected, or the warning of an accepted one; empty for a
  // frame accepted without remarks.
  std::string detail;
  // The generic model's neutral probability of the single face found, if any.
  std::optional<float> neutral_probability;

  bool accepted() const { return verdict == EnrollmentVerdict::kAccepted; }
};

// The index of the "neutral" label in `labels` (CheckEnrollmentFrame's
// `neutral_index`); -1 when there is none.
int NeutralLabelIndex(const std::vector<std::string>& labels);

// Variance of the Laplacian of the grayscale crop of `image` inside `box`
// (clipped to the image); 0 for an empty crop.
double LaplacianVariance(const RgbImage& image, const Box& box);

// Checks one frame's faces (as FaceAnalyzer found them) for enrollment:
// exactly one face, large enough, sharp enough, facing the camera, and by
// the generic model's neutral probability (`neutral_index`: the neutral
// label's index in the face's probabilities, or -1 for none) neutral enough
// to keep, with a warning when it is clearly not neutral.
EnrollmentCheck CheckEnrollmentFrame(const std::vector<FaceAnalysis>& faces, const RgbImage& image,
                                     int neutral_index, const EnrollmentCheckOptions& options);

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_ENROLLMENT_CHECKS_H_
