#ifndef FERSERVE_LIB_PFT_SYNTHETIC_SUBJECTS_H_
#define FERSERVE_LIB_PFT_SYNTHETIC_SUBJECTS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/pft/linear_head.h"
#include "lib/pft/source_subject.h"

namespace fer::pft {

// A synthetic FER world with known subject-specific feature shifts, for
// testing and benchmarking PFT without face data.
//
// K expression prototypes p_k (norm `prototype_norm`, class 0 = neutral) and
// the nearest-prototype linear head (W_k = p_k, b_k = -|p_k|²/2), which is
// Bayes-optimal for the clean features f = p_k + noise·n, n ~ N(0, I).
// Each subject s has a style z_s ~ N(0, I_m) (m = style_dim) that shifts its
// features
//
//   x = A_s · f + o_s,   A_s = I + distortion · Σ_l z_sl B_l,   o_s = offset_scale · U z_s
//
// with B_l fixed random symmetric matrices (spectral norm ~1) and U's columns
// unit vectors whose share `offset_overlap` lies in the prototypes' span (so
// that offsets move features across decision boundaries). The same style
// deforms the subject's 68-landmark face shape (fixed modes of norm
// `landmark_mode_scale`) and sets its mean head pose, so subjects with
// similar landmarks have similar shifts, as PFT's landmark pairing assumes.
// Each frame's landmarks get a random similarity transform (which Procrustes
// removes) and a little noise.
struct SyntheticConfig {
  int dim = 64;
  int num_classes = 7;
  int style_dim = 4;
  double prototype_norm = 4.0;
  double noise = 1.0;
  double offset_scale = 1.5;
  double offset_overlap = 0.6;
  double distortion = 0.1;
  double landmark_mode_scale = 0.05;
  double pose_degrees_per_style = 5.0;
  uint64_t seed = 1;
};

struct SyntheticSubject {
  SourceSubject data;                 // shifted features x, labels, landmarks, pose
  std::vector<float> clean_features;  // the same frames' f, without the subject's shift
  std::vector<float> style;           // z_s
};

class SyntheticWorld {
 public:
  static absl::StatusOr<SyntheticWorld> Create(const SyntheticConfig& config);

  const SyntheticConfig& config() const { return config_; }
  // Labels: face-api's 7 when num_classes is 7, else "neutral", "c1", ...
  const LinearHead& head() const { return head_; }

  // Subject `index` (its style drawn from the world's seed and index) with
  // `per_class` frames of each class, classes in turn (0, 1, .., K-1, 0, ..).
  // `sample_seed` draws other frames of the same subject.
  SyntheticSubject MakeSubject(int index, int per_class, uint64_t sample_seed = 0) const;
  // The same with an explicit style (style_dim values).
  SyntheticSubject MakeSubjectWithStyle(int index, const std::vector<float>& style, int per_class,
                                        uint64_t sample_seed = 0) const;

 private:
  SyntheticWorld() = default;

  SyntheticConfig config_;
  LinearHead head_;
  std::vector<std::vector<float>> prototypes_;   // K x D
  std::vector<std::vector<float>> offsets_;      // m x D: U's columns
  std::vector<std::vector<float>> distortions_;  // m x (D x D): B_l
  std::vector<float> template_shape_;            // 68 x 2
  std::vector<std::vector<float>> shape_modes_;  // m x (68 x 2)
  std::vector<std::vector<float>> pose_modes_;   // m x 3 degrees
};

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_SYNTHETIC_SUBJECTS_H_
