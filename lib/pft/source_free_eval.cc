#include "lib/pft/source_free_eval.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/model/status_macros.h"
#include "lib/pft/feature_stats.h"
#include "lib/pft/neutral_mean_shift.h"
#include "lib/pft/statistics_alignment.h"

namespace fer::pft {
namespace {

void Log(const SourceFreeEvalOptions& options, const std::string& line) {
  if (options.log) options.log(line);
}

// A target's enrollment (first neutral frames) and test split.
struct TargetSplit {
  std::vector<float> enroll;
  int enroll_count = 0;
  std::vector<float> test;
  std::vector<int> test_labels;
};

TargetSplit Split(const SourceSubject& subject, int dim, int neutral_index, int adapt_frames) {
  TargetSplit split;
  for (int i = 0; i < subject.count; ++i) {
    const auto row = subject.features.begin() + static_cast<size_t>(i) * dim;
    if (subject.labels[i] == neutral_index && split.enroll_count < adapt_frames) {
      split.enroll.insert(split.enroll.end(), row, row + dim);
      split.enroll_count++;
    } else {
      split.test.insert(split.test.end(), row, row + dim);
      split.test_labels.push_back(subject.labels[i]);
    }
  }
  return split;
}

}  // namespace

absl::StatusOr<MethodScore> ScoreFeatures(const LinearHead& head,
                                          const std::vector<float>& features,
                                          const std::vector<int>& labels) {
  const int n = static_cast<int>(labels.size());
  const int k = head.num_classes();
  FER_ASSIGN_OR_RETURN(const std::vector<float> p, head.Probabilities(features, n));
  std::vector<int> true_positive(k, 0), predicted(k, 0), actual(k, 0);
  int correct = 0;
  for (int i = 0; i < n; ++i) {
    const auto row = p.begin() + static_cast<size_t>(i) * k;
    const int best = static_cast<int>(std::max_element(row, row + k) - row);
    predicted[best]++;
    actual[labels[i]]++;
    if (best == labels[i]) {
      true_positive[best]++;
      correct++;
    }
  }
  MethodScore score;
  score.accuracy = n > 0 ? static_cast<double>(correct) / n : 0;
  int classes = 0;
  for (int c = 0; c < k; ++c) {
    if (actual[c] == 0) continue;
    ++classes;
    const double denominator = predicted[c] + actual[c];
    score.macro_f1 += denominator > 0 ? 2.0 * true_positive[c] / denominator : 0;
  }
  if (classes > 0) score.macro_f1 /= classes;
  return score;
}

namespace {

// Scores every method on one target subject: the source-only head, the two
// statistics baselines and PFT with each pairing strategy, pre-trained on the
// other subjects and adapted on the target's enrollment frames.
absl::StatusOr<SubjectEval> EvaluateTarget(const std::vector<SourceSubject>& subjects, size_t t,
                                           const TargetSplit& split, const LinearHead& head,
                                           const SourceFreeEvalOptions& options) {
  const int dim = head.feature_dim();
  std::vector<SourceSubject> sources;
  for (size_t s = 0; s < subjects.size(); ++s) {
    if (s != t) sources.push_back(subjects[s]);
  }
  SubjectEval result;
  result.subject = subjects[t].id;
  result.adapt_count = split.enroll_count;
  result.test_count = static_cast<int>(split.test_labels.size());
  const int test_count = result.test_count;

  FER_ASSIGN_OR_RETURN(MethodScore source_only, ScoreFeatures(head, split.test, split.test_labels));
  result.scores.push_back(source_only);

  // One bundle per pairing strategy; the baselines use the first one's raw
  // source neutral statistics (the same for every pairing).
  std::vector<ModelBundle> bundles;
  for (PairingStrategy pairing : options.pairings) {
    PretrainOptions pretrain = options.pretrain;
    pretrain.pairing.strategy = pairing;
    pretrain.progress = nullptr;
    FER_ASSIGN_OR_RETURN(ModelBundle b, Pretrain(sources, head, pretrain));
    bundles.push_back(std::move(b));
  }
  const ModelBundle& bundle = bundles.front();

  FER_ASSIGN_OR_RETURN(const std::vector<float> user_mean,
                       MeanFeature(split.enroll, split.enroll_count, dim));
  FER_ASSIGN_OR_RETURN(
      const std::vector<float> shifted,
      NeutralMeanShift(split.test, test_count, user_mean, bundle.source_neutral.mean));
  FER_ASSIGN_OR_RETURN(MethodScore neutral_mean, ScoreFeatures(head, shifted, split.test_labels));
  result.scores.push_back(neutral_mean);

  FER_ASSIGN_OR_RETURN(const FeatureStats user_stats,
                       ComputeFeatureStats(split.enroll, split.enroll_count, dim));
  FER_ASSIGN_OR_RETURN(const StatisticsAlignment alignment,
                       StatisticsAlignment::Fit(user_stats, bundle.source_neutral));
  FER_ASSIGN_OR_RETURN(const std::vector<float> aligned, alignment.Apply(split.test, test_count));
  FER_ASSIGN_OR_RETURN(MethodScore stats_align, ScoreFeatures(head, aligned, split.test_labels));
  result.scores.push_back(stats_align);

  for (const ModelBundle& b : bundles) {
    FER_ASSIGN_OR_RETURN(const AdaptResult adapted,
                         Adapt(b, head, split.enroll, split.enroll_count, options.adapt));
    FER_ASSIGN_OR_RETURN(const std::vector<float> translated,
                         adapted.translator.Forward(split.test, test_count));
    FER_ASSIGN_OR_RETURN(MethodScore pft, ScoreFeatures(head, translated, split.test_labels));
    result.scores.push_back(pft);
  }
  return result;
}

}  // namespace

absl::StatusOr<SourceFreeEval> EvaluateSourceFree(const std::vector<SourceSubject>& subjects,
                                                  const LinearHead& head, int neutral_index,
                                                  const SourceFreeEvalOptions& options) {
  FER_RETURN_IF_ERROR(head.Validate());
  if (subjects.size() < 3) {
    return absl::FailedPreconditionError(
        absl::StrCat("the source-free protocol needs 3+ subjects (a target and 2+ sources), got ",
                     subjects.size()));
  }
  if (options.pairings.empty()) {
    return absl::InvalidArgumentError("the protocol needs at least one pairing strategy");
  }
  if (options.adapt_frames < 2) {
    return absl::InvalidArgumentError("adapt_frames must be at least 2");
  }
  const int dim = head.feature_dim();
  SourceFreeEval eval;
  eval.methods = {"source-only", "neutral-mean", "stats-align"};
  for (PairingStrategy p : options.pairings)
    eval.methods.push_back("pft-" + PairingStrategyName(p));

  for (size_t t = 0; t < subjects.size(); ++t) {
    const SourceSubject& target = subjects[t];
    const TargetSplit split = Split(target, dim, neutral_index, options.adapt_frames);
    if (split.enroll_count < options.adapt_frames || split.test_labels.empty()) {
      Log(options, absl::StrFormat("%s: skipped (%d neutral frames for enrollment, %d to test; "
                                   "needs %d and 1+)",
                                   target.id, split.enroll_count, split.test_labels.size(),
                                   options.adapt_frames));
      continue;
    }
    FER_ASSIGN_OR_RETURN(SubjectEval result, EvaluateTarget(subjects, t, split, head, options));
    for (size_t m = 0; m < result.scores.size(); ++m) result.scores[m].method = eval.methods[m];
    std::string line = absl::StrFormat("%s (%d enroll, %d test):", target.id, result.adapt_count,
                                       result.test_count);
    for (const MethodScore& s : result.scores) {
      absl::StrAppendFormat(&line, " %s %.3f/%.3f", s.method, s.accuracy, s.macro_f1);
    }
    Log(options, line);
    eval.subjects.push_back(std::move(result));
  }
  if (eval.subjects.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no subject has more than ", options.adapt_frames, " neutral frames to enroll and test"));
  }
  for (size_t m = 0; m < eval.methods.size(); ++m) {
    MethodScore mean;
    mean.method = eval.methods[m];
    for (const SubjectEval& s : eval.subjects) {
      mean.accuracy += s.scores[m].accuracy / eval.subjects.size();
      mean.macro_f1 += s.scores[m].macro_f1 / eval.subjects.size();
    }
    eval.mean.push_back(mean);
  }
  return eval;
}

std::string SourceFreeEval::Markdown() const {
  std::string out = "| subject | enroll | test |";
  std::string rule = "|---|---:|---:|";
  for (const std::string& m : methods) {
    absl::StrAppend(&out, " ", m, " acc | ", m, " F1 |");
    rule += "---:|---:|";
  }
  out += "\n" + rule + "\n";
  for (const SubjectEval& s : subjects) {
    absl::StrAppendFormat(&out, "| %s | %d | %d |", s.subject, s.adapt_count, s.test_count);
    for (const MethodScore& score : s.scores) {
      absl::StrAppendFormat(&out, " %.3f | %.3f |", score.accuracy, score.macro_f1);
    }
    out += "\n";
  }
  out += "| **mean** | | |";
  for (const MethodScore& score : mean) {
    absl::StrAppendFormat(&out, " **%.3f** | **%.3f** |", score.accuracy, score.macro_f1);
  }
  return out + "\n";
}

std::string SourceFreeEval::Csv() const {
  std::string out = "subject,method,accuracy,macro_f1,adapt_frames,test_frames\n";
  for (const SubjectEval& s : subjects) {
    for (const MethodScore& score : s.scores) {
      absl::StrAppendFormat(&out, "%s,%s,%.4f,%.4f,%d,%d\n", s.subject, score.method,
                            score.accuracy, score.macro_f1, s.adapt_count, s.test_count);
    }
  }
  for (const MethodScore& score : mean) {
    absl::StrAppendFormat(&out, "mean,%s,%.4f,%.4f,,\n", score.method, score.accuracy,
                          score.macro_f1);
  }
  return out;
}

}  // namespace fer::pft
