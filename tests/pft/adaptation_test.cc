#include "lib/pft/adaptation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "lib/pft/neutral_mean_shift.h"
#include "lib/pft/pretraining.h"
#include "lib/pft/synthetic_subjects.h"

namespace fer::pft {
namespace {

struct Scores {
  double accuracy = 0;
  std::vector<double> recall;  // per class
  double min_non_neutral_recall() const {
    double m = 1;
    for (size_t c = 1; c < recall.size(); ++c) m = std::min(m, recall[c]);
    return m;
  }
};

Scores Score(const LinearHead& head, const std::vector<float>& features,
             const std::vector<int>& labels) {
  const int n = static_cast<int>(labels.size());
  const std::vector<float> p = *head.Probabilities(features, n);
  const int k = head.num_classes();
  std::vector<int> hits(k, 0), totals(k, 0);
  int correct = 0;
  for (int i = 0; i < n; ++i) {
    int best = 0;
    for (int c = 1; c < k; ++c) {
      if (p[i * k + c] > p[i * k + best]) best = c;
    }
    totals[labels[i]]++;
    if (best == labels[i]) {
      hits[labels[i]]++;
      correct++;
    }
  }
  Scores s;
  s.accuracy = static_cast<double>(correct) / n;
  for (int c = 0; c < k; ++c) s.recall.push_back(totals[c] ? double(hits[c]) / totals[c] : 0.0);
  return s;
}

struct Benchmark {
  double oracle = 0, source_only = 0, neutral_mean = 0, pretrained_only = 0, pft = 0;
  double pft_min_recall = 0;
  double seconds = 0;
};

// The synthetic benchmark: 16 source subjects (40 frames per class) pre-train
// a translator; each of 5 target subjects adapts on the 60 neutral frames of
// one recording and is tested on all 420 frames of another. Accuracies are
// averaged over targets.
Benchmark RunBenchmark(PairingStrategy pairing, const AdaptOptions& adapt_options,
                       const SyntheticConfig& config) {
  const SyntheticWorld world = *SyntheticWorld::Create(config);
  const int dim = config.dim;
  std::vector<SourceSubject> sources;
  const int num_sources = 16;
  for (int s = 0; s < num_sources; ++s) sources.push_back(world.MakeSubject(s, 40).data);
  PretrainOptions options;
  options.pairing.strategy = pairing;
  options.hidden = 128;
  options.epochs = 15;
  options.seed = 3;
  const ModelBundle bundle = *Pretrain(sources, world.head(), options);

  Benchmark b;
  const int targets = 5;
  for (int t = 0; t < targets; ++t) {
    const SyntheticSubject target = world.MakeSubject(100 + t, 60);
    const SyntheticSubject enroll = world.MakeSubject(100 + t, 60, /*sample_seed=*/1);
    std::vector<float> neutral;
    int count = 0;
    for (int i = 0; i < enroll.data.count; ++i) {
      if (enroll.data.labels[i] != 0) continue;
      neutral.insert(neutral.end(), enroll.data.features.begin() + i * dim,
                     enroll.data.features.begin() + (i + 1) * dim);
      ++count;
    }
    const auto& labels = target.data.labels;
    b.oracle += Score(world.head(), target.clean_features, labels).accuracy;
    b.source_only += Score(world.head(), target.data.features, labels).accuracy;
    const std::vector<float> user_mean = *MeanFeature(neutral, count, dim);
    const std::vector<float> shifted = *NeutralMeanShift(target.data.features, target.data.count,
                                                         user_mean, bundle.source_neutral.mean);
    b.neutral_mean += Score(world.head(), shifted, labels).accuracy;
    b.pretrained_only +=
        Score(world.head(), *bundle.translator.Forward(target.data.features, target.data.count),
              labels)
            .accuracy;
    const AdaptResult adapted = *Adapt(bundle, world.head(), neutral, count, adapt_options);
    b.seconds += adapted.report.seconds;
    const Scores pft = Score(
        world.head(), *adapted.translator.Forward(target.data.features, target.data.count), labels);
    b.pft += pft.accuracy;
    b.pft_min_recall += pft.min_non_neutral_recall();
    std::printf(
        "  target %d: steps %d early %d before %.2f after %.2f kl %.3f acc %.3f minrec %.3f\n", t,
        adapted.report.steps, adapted.report.early_stopped, adapted.report.neutral_rate_before,
        adapted.report.neutral_rate_after, adapted.report.mean_kl_to_generic, pft.accuracy,
        pft.min_non_neutral_recall());
  }
  for (double* v : {&b.oracle, &b.source_only, &b.neutral_mean, &b.pretrained_only, &b.pft,
                    &b.pft_min_recall, &b.seconds}) {
    *v /= targets;
  }
  std::printf(
      "[pft benchmark] pairing %s: oracle %.3f source-only %.3f neutral-mean %.3f "
      "pretrained-only %.3f PFT %.3f (min non-neutral recall %.3f, adapt %.3f s)\n",
      PairingStrategyName(pairing).c_str(), b.oracle, b.source_only, b.neutral_mean,
      b.pretrained_only, b.pft, b.pft_min_recall, b.seconds);
  return b;
}

// Subject shifts that cost ~18 points of accuracy: offsets of norm ~6 and a
// distortion of spectral norm ~1.2.
SyntheticConfig ShiftedWorld() {
  SyntheticConfig config;
  config.offset_scale = 3.0;
  config.distortion = 0.6;
  return config;
}

double Recovered(const Benchmark& b) {
  return (b.pft - b.source_only) / (b.oracle - b.source_only);
}

TEST(AdaptationTest, SyntheticBenchmarkRecoversShiftWithoutCollapse) {
  for (PairingStrategy pairing :
       {PairingStrategy::kLandmark, PairingStrategy::kEmbeddingCosine, PairingStrategy::kRandom}) {
    const Benchmark b = RunBenchmark(pairing, AdaptOptions{}, ShiftedWorld());
    ASSERT_GT(b.oracle - b.source_only, 0.1) << "the subject shift must hurt";
    EXPECT_GE(Recovered(b), 0.5) << PairingStrategyName(pairing);
    EXPECT_GT(b.pft, b.source_only) << PairingStrategyName(pairing);
    EXPECT_GT(b.pft, b.pretrained_only) << PairingStrategyName(pairing);
    EXPECT_GE(b.pft_min_recall, 0.75) << PairingStrategyName(pairing);
  }
}

// PFT beats neutral-mean subtraction, and the expression probes are what
// make it: without them the gradient steps lose to the mean shift alone.
TEST(AdaptationTest, SyntheticBenchmarkBeatsNeutralMeanSubtraction) {
  const Benchmark b = RunBenchmark(PairingStrategy::kLandmark, AdaptOptions{}, ShiftedWorld());
  EXPECT_GT(b.pft, b.neutral_mean);
  AdaptOptions without_probes;
  without_probes.preservation_weight = 0;
  const Benchmark ablated =
      RunBenchmark(PairingStrategy::kLandmark, without_probes, ShiftedWorld());
  EXPECT_GT(b.pft, ablated.pft);
  EXPECT_GT(b.pft_min_recall, ablated.pft_min_recall);
}

// Without its safeguards (the anchor, the consistency term, the expression
// probes, mean-only alignment), neutral-only adaptation drags other
// expressions to neutral: the same bounds fail.
TEST(AdaptationTest, SyntheticBenchmarkCollapsesWithoutItsSafeguards) {
  AdaptOptions ablated;
  ablated.anchor_weight = 0;
  ablated.consistency_weight = 0;
  ablated.preservation_weight = 0;
  ablated.align_covariance = true;
  ablated.patience = 100;
  const Benchmark b = RunBenchmark(PairingStrategy::kLandmark, ablated, ShiftedWorld());
  EXPECT_LT(b.pft_min_recall, 0.75);
  EXPECT_LT(Recovered(b), 0.5);
}

TEST(AdaptationTest, DeterministicForASeedAndReportsProgress) {
  SyntheticConfig config;
  config.dim = 16;
  const SyntheticWorld world = *SyntheticWorld::Create(config);
  std::vector<SourceSubject> sources;
  for (int s = 0; s < 3; ++s) sources.push_back(world.MakeSubject(s, 10).data);
  PretrainOptions pretrain;
  pretrain.hidden = 16;
  pretrain.epochs = 2;
  const ModelBundle bundle = *Pretrain(sources, world.head(), pretrain);
  const SyntheticSubject user = world.MakeSubject(50, 20);
  std::vector<float> neutral;
  int count = 0;
  for (int i = 0; i < user.data.count; ++i) {
    if (user.data.labels[i] != 0) continue;
    neutral.insert(neutral.end(), user.data.features.begin() + i * 16,
                   user.data.features.begin() + (i + 1) * 16);
    ++count;
  }
  AdaptOptions options;
  options.max_steps = 12;
  options.patience = 100;
  int calls = 0;
  options.progress = [&](const AdaptProgress& p) {
    ++calls;
    EXPECT_EQ(p.step, (calls - 1) % 12 + 1);
    EXPECT_EQ(p.total_steps, 12);
    EXPECT_GE(p.train.cross_entropy, 0);
  };
  auto a = Adapt(bundle, world.head(), neutral, count, options);
  auto b = Adapt(bundle, world.head(), neutral, count, options);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status();
  EXPECT_EQ(calls, 24);
  EXPECT_EQ(a->translator.w2(), b->translator.w2());
  EXPECT_EQ(a->translator.b2(), b->translator.b2());
  EXPECT_EQ(a->report.steps, 12);
  EXPECT_EQ(a->report.holdout_count, 4);
  EXPECT_EQ(a->report.train_count, 16);
  EXPECT_FALSE(a->report.early_stopped);

  EXPECT_FALSE(Adapt(bundle, world.head(), neutral, 1, options).ok());
}

// Adaptation runs on options.threads intra-op threads and gives the caller's
// setting back.
TEST(AdaptationTest, RunsOnItsOwnThreadCountAndRestoresTheCallers) {
  SyntheticConfig config;
  config.dim = 16;
  const SyntheticWorld world = *SyntheticWorld::Create(config);
  auto translator = Translator::Create(16, 16);
  ASSERT_TRUE(translator.ok());
  ModelBundle bundle{*translator};
  bundle.feature_dim = 16;
  bundle.labels = world.head().labels;
  const SyntheticSubject user = world.MakeSubject(3, 10);
  bundle.source_neutral = *ComputeFeatureStats(user.clean_features, user.data.count, 16);
  bundle.source_neutral_translated = bundle.source_neutral;
  const int saved = at::get_num_threads();
  at::set_num_threads(2);
  AdaptOptions options;
  options.max_steps = 3;
  options.threads = 1;
  int seen = 0;
  options.progress = [&](const AdaptProgress&) { seen = at::get_num_threads(); };
  ASSERT_TRUE(Adapt(bundle, world.head(), user.data.features, user.data.count, options).ok());
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(at::get_num_threads(), 2);
  at::set_num_threads(saved);
}

// The speed target: adaptation on 300 enrolled 256-d features with the
// default translator and thread setting in at most 1 s (printed, not
// asserted).
TEST(AdaptationTest, SpeedOn300Features) {
  SyntheticConfig config;
  config.dim = 256;
  const SyntheticWorld world = *SyntheticWorld::Create(config);
  auto translator = Translator::Create(256);
  ASSERT_TRUE(translator.ok());
  const SyntheticSubject user = world.MakeSubject(7, 300);
  std::vector<float> neutral;
  for (int i = 0; i < user.data.count; ++i) {
    if (user.data.labels[i] != 0) continue;
    neutral.insert(neutral.end(), user.data.features.begin() + i * 256,
                   user.data.features.begin() + (i + 1) * 256);
  }
  ModelBundle bundle{*translator};
  bundle.feature_dim = 256;
  bundle.labels = world.head().labels;
  const SyntheticSubject source = world.MakeSubject(8, 300);
  std::vector<float> source_neutral;
  for (int i = 0; i < source.data.count; ++i) {
    if (source.data.labels[i] != 0) continue;
    source_neutral.insert(source_neutral.end(), source.clean_features.begin() + i * 256,
                          source.clean_features.begin() + (i + 1) * 256);
  }
  bundle.source_neutral = *ComputeFeatureStats(source_neutral, 300, 256);
  bundle.source_neutral_translated = bundle.source_neutral;
  AdaptOptions options;
  options.patience = 1000;  // the full step budget: the worst case
  auto result = Adapt(bundle, world.head(), neutral, 300, options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::printf(
      "[pft speed] adaptation on 300 x 256 features, hidden 512, %d steps, %d thread(s): "
      "%.3f s (target <= 1 s)\n",
      result->report.steps, options.threads, result->report.seconds);
}

}  // namespace
}  // namespace fer::pft
