#include "lib/pft/pretraining.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "lib/model/expression_labels.h"
#include "lib/pft/synthetic_subjects.h"

namespace fer::pft {
namespace {

struct TrainingRun {
  std::optional<ModelBundle> bundle;
  std::vector<PretrainLosses> epochs;
};

TrainingRun Train(PretrainOptions options, int num_subjects = 4) {
  SyntheticConfig config;
  config.dim = 16;
  config.offset_scale = 3.0;
  config.distortion = 0.6;
  const SyntheticWorld world = *SyntheticWorld::Create(config);
  std::vector<SourceSubject> subjects;
  for (int s = 0; s < num_subjects; ++s) subjects.push_back(world.MakeSubject(s, 12).data);
  TrainingRun run;
  options.progress = [&](const PretrainProgress& p) {
    EXPECT_EQ(p.epoch, static_cast<int>(run.epochs.size()) + 1);
    EXPECT_EQ(p.epochs, options.epochs);
    run.epochs.push_back(p.mean);
  };
  auto bundle = Pretrain(subjects, world.head(), options);
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  if (bundle.ok()) run.bundle.emplace(*std::move(bundle));
  return run;
}

PretrainOptions Small() {
  PretrainOptions options;
  options.hidden = 32;
  options.epochs = 12;
  options.seed = 5;
  options.backbone_id = "synthetic";
  return options;
}

TEST(PretrainingTest, LossesDecrease) {
  for (StyleLoss style : {StyleLoss::kMoments, StyleLoss::kMmd}) {
    PretrainOptions options = Small();
    options.style_loss = style;
    const TrainingRun run = Train(options);
    ASSERT_EQ(run.epochs.size(), 12u);
    EXPECT_LT(run.epochs.back().total, run.epochs.front().total);
    EXPECT_LT(run.epochs.back().cross_entropy, run.epochs.front().cross_entropy);
    EXPECT_GE(run.epochs.back().consistency, 0);
  }
}

// With the other terms weighted out, each style loss alone is minimised (with
// the defaults it trades off against the cross-entropy and need not fall).
TEST(PretrainingTest, StyleLossDecreasesOnItsOwn) {
  for (StyleLoss style : {StyleLoss::kMoments, StyleLoss::kMmd}) {
    PretrainOptions options = Small();
    options.style_loss = style;
    options.cross_entropy_weight = 0;
    options.consistency_weight = 0;
    options.style_weight = 1;
    const TrainingRun run = Train(options);
    ASSERT_EQ(run.epochs.size(), 12u);
    EXPECT_LT(run.epochs.back().style, 0.8 * run.epochs.front().style)
        << (style == StyleLoss::kMmd ? "mmd" : "moments");
  }
}

TEST(PretrainingTest, DeterministicForASeed) {
  const TrainingRun a = Train(Small());
  const TrainingRun b = Train(Small());
  EXPECT_EQ(a.bundle->translator.w1(), b.bundle->translator.w1());
  EXPECT_EQ(a.bundle->translator.w2(), b.bundle->translator.w2());
  EXPECT_EQ(a.bundle->source_neutral_translated.mean, b.bundle->source_neutral_translated.mean);
  PretrainOptions other = Small();
  other.seed = 6;
  EXPECT_NE(Train(other).bundle->translator.w2(), a.bundle->translator.w2());
}

TEST(PretrainingTest, FillsTheBundle) {
  const TrainingRun run = Train(Small());
  ASSERT_TRUE(run.bundle.has_value());
  const ModelBundle& b = *run.bundle;
  EXPECT_EQ(b.backbone_id, "synthetic");
  EXPECT_EQ(b.feature_dim, 16);
  EXPECT_EQ(b.translator.dim(), 16);
  EXPECT_EQ(b.translator.hidden(), 32);
  EXPECT_EQ(b.labels, FaceApiExpressionLabels());  // the synthetic world names face-api's 7
  EXPECT_EQ(b.labels[b.neutral_index], "neutral");
  EXPECT_TRUE(b.source_neutral.Validate().ok());
  EXPECT_TRUE(b.source_neutral_translated.Validate().ok());
  EXPECT_EQ(b.source_neutral.count, 4 * 12);  // 12 neutral frames per subject
  EXPECT_NE(b.source_neutral.mean, b.source_neutral_translated.mean)
      << "the trained translator moves the features";
  for (const char* key : {"pairing", "pairs", "style_loss", "epochs", "seed", "final_loss"}) {
    EXPECT_EQ(b.training_config.count(key), 1u) << key;
  }
  EXPECT_EQ(b.training_config.at("pairing"), "landmark");
  EXPECT_EQ(b.training_config.at("epochs"), "12");
}

TEST(PretrainingTest, RejectsUnusableInputs) {
  SyntheticConfig config;
  config.dim = 8;
  const SyntheticWorld world = *SyntheticWorld::Create(config);
  EXPECT_FALSE(Pretrain({world.MakeSubject(0, 4).data}, world.head(), Small()).ok())
      << "pairing needs two subjects";
  SourceSubject bad = world.MakeSubject(1, 4).data;
  bad.labels[0] = 99;
  EXPECT_FALSE(Pretrain({world.MakeSubject(0, 4).data, bad}, world.head(), Small()).ok());
}

}  // namespace
}  // namespace fer::pft
