#ifndef FERSERVE_LIB_PFT_MODEL_BUNDLE_H_
#define FERSERVE_LIB_PFT_MODEL_BUNDLE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "lib/pft/feature_stats.h"
#include "lib/pft/translator.h"

namespace fer::pft {

// What PFT pre-training produces and adaptation starts from: the generic
// translator, the source subjects' neutral-feature statistics, and what the
// bundle was trained for.
struct ModelBundle {
  Translator translator;

  // Neutral-labelled source features as the backbone gives them: mean over
  // all of them; covariance = the subjects' within-subject covariances
  // averaged (count-weighted), i.e. the spread one user's neutral frames
  // have, without the spread between subjects.
  FeatureStats source_neutral;
  // The same statistics of the pre-trained translator's outputs on those
  // features: the target adaptation aligns a user's translated neutral
  // features to.
  FeatureStats source_neutral_translated;

  std::string backbone_id;
  int feature_dim = 0;
  std::vector<std::string> labels;  // the head's classes, logits order
  int neutral_index = 0;            // index of the neutral label in labels
  // Pre-training settings and outcome as text (loss weights, epochs, pairing
  // strategy, each subject's partner, final losses ...), for provenance.
  std::map<std::string, std::string> training_config;
};

// OK when `bundle` was trained on the features of this backbone (its id,
// feature dimension and labels, in order); FailedPrecondition naming both
// otherwise: its translator would move features it never saw.
absl::Status CheckBundleFitsBackbone(const ModelBundle& bundle, absl::string_view backbone_id,
                                     int feature_dim, const std::vector<std::string>& labels);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_MODEL_BUNDLE_H_
