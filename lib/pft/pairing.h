#ifndef FERSERVE_LIB_PFT_PAIRING_H_
#define FERSERVE_LIB_PFT_PAIRING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/pft/source_subject.h"

namespace fer::pft {

// How pre-training picks, for each source subject, the subject whose feature
// style its translated features are aligned to.
enum class PairingStrategy {
  // Smallest Procrustes distance between the subjects' mean normalised
  // 68-landmark shapes, plus a head-pose term when both have poses (the
  // paper's choice).
  kLandmark,
  // Largest cosine similarity between the subjects' mean features.
  kEmbeddingCosine,
  // A uniformly random other subject.
  kRandom,
};

// "landmark", "embedding" (or "cosine"), "random".
absl::StatusOr<PairingStrategy> ParsePairingStrategy(absl::string_view name);
std::string PairingStrategyName(PairingStrategy strategy);

struct PairingOptions {
  PairingStrategy strategy = PairingStrategy::kLandmark;
  // Landmark pairing: added distance per degree of difference between the
  // subjects' mean (yaw, pitch, roll), Euclidean. Procrustes distances of
  // faces are ~0.02-0.2, so 0.005 makes 10° weigh like 0.05.
  double pose_weight_per_degree = 0.005;
  uint64_t seed = 0;  // kRandom
};

// The subject's mean shape: each frame's 68 points centred, scaled to unit
// norm and rotated onto the first frame's (orthogonal Procrustes), averaged,
// and normalised again. `landmarks`: count x 68 x (x, y).
absl::StatusOr<std::vector<float>> MeanNormalizedShape(const std::vector<float>& landmarks,
                                                       int count);

// Full Procrustes distance between two 68-point shapes (68 x (x, y)): after
// removing translation, scale and rotation, sqrt(1 - c²) with c the largest
// correlation of the unit-norm shapes; 0 for similar shapes, at most 1.
double ProcrustesDistance(const std::vector<float>& a, const std::vector<float>& b);

// partner[i] != i for every subject (needs 2+ subjects). Landmark pairing
// needs landmarks for all subjects; pose is used when all have it.
absl::StatusOr<std::vector<int>> PairSubjects(const std::vector<SourceSubject>& subjects, int dim,
                                              const PairingOptions& options);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_PAIRING_H_
