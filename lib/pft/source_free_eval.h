#ifndef FERSERVE_LIB_PFT_SOURCE_FREE_EVAL_H_
#define FERSERVE_LIB_PFT_SOURCE_FREE_EVAL_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/pft/adaptation.h"
#include "lib/pft/linear_head.h"
#include "lib/pft/pairing.h"
#include "lib/pft/pretraining.h"
#include "lib/pft/source_subject.h"

namespace fer::pft {

// The per-subject source-free protocol of PFT: every subject in turn is the
// target domain; a bundle is pre-trained on the other subjects; the target's
// first `adapt_frames` neutral-labelled frames (in frame order) are its
// enrollment, all its other frames are the test set.
struct SourceFreeEvalOptions {
  int adapt_frames = 50;
  PretrainOptions pretrain;  // pairing strategy overridden per method
  AdaptOptions adapt;
  std::vector<PairingStrategy> pairings = {
      PairingStrategy::kLandmark, PairingStrategy::kEmbeddingCosine, PairingStrategy::kRandom};
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

struct MethodScore {
  std::string method;
  double accuracy = 0;
  // Mean F1 over the classes present in the test labels.
  double macro_f1 = 0;
};

struct SubjectEval {
  std::string subject;
  int adapt_count = 0;
  int test_count = 0;
  std::vector<MethodScore> scores;  // one per method, in SourceFreeEval::methods order
};

struct SourceFreeEval {
  // "source-only", "neutral-mean", "stats-align", then "pft-<pairing>" per
  // pairing strategy.
  std::vector<std::string> methods;
  std::vector<SubjectEval> subjects;
  std::vector<MethodScore> mean;  // per method, averaged over subjects

  std::string Markdown() const;
  // subject,method,accuracy,macro_f1,adapt_frames,test_frames; subject
  // "mean" holds the averages.
  std::string Csv() const;
};

// Accuracy and macro-F1 of the head's argmax on `features` (count x dim).
absl::StatusOr<MethodScore> ScoreFeatures(const LinearHead& head,
                                          const std::vector<float>& features,
                                          const std::vector<int>& labels);

// Runs the protocol on 2+ subjects (a subject needs more than adapt_frames
// neutral frames, else it is skipped with a log line). The baselines:
// source-only (the head on raw features), neutral-mean subtraction and
// statistics alignment to the source subjects' neutral statistics (both from
// the enrollment frames, no training), then PFT with each pairing strategy.
absl::StatusOr<SourceFreeEval> EvaluateSourceFree(const std::vector<SourceSubject>& subjects,
                                                  const LinearHead& head, int neutral_index,
                                                  const SourceFreeEvalOptions& options);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_SOURCE_FREE_EVAL_H_
