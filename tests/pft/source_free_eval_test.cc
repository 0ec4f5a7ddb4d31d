#include "lib/pft/source_free_eval.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"
#include "lib/pft/synthetic_subjects.h"

namespace fer::pft {
namespace {

using ::testing::HasSubstr;

TEST(SourceFreeEvalTest, ScoreFeaturesAccuracyAndMacroF1) {
  LinearHead head;
  head.labels = {"neutral", "happy", "sad"};
  head.layer = {3, 2, {1, 0, 0, 1, -1, -1}, {0, 0, 0}};
  // Predictions: neutral, happy, happy, neutral (true: neutral, happy, neutral, neutral).
  auto score = ScoreFeatures(head, {2, 0, 0, 2, 0, 3, 1, 0}, {0, 1, 0, 0});
  ASSERT_TRUE(score.ok()) << score.status();
  EXPECT_DOUBLE_EQ(score->accuracy, 0.75);
  // neutral: tp 2, predicted 2, actual 3 -> F1 0.8; happy: tp 1, predicted 2, actual 1 -> 2/3.
  EXPECT_NEAR(score->macro_f1, (0.8 + 2.0 / 3) / 2, 1e-9);
}

TEST(SourceFreeEvalTest, RunsEveryMethodForEveryTarget) {
  SyntheticConfig config;
  config.dim = 16;
  config.offset_scale = 3.0;
  const SyntheticWorld world = *SyntheticWorld::Create(config);
  std::vector<SourceSubject> subjects;
  for (int s = 0; s < 4; ++s) subjects.push_back(world.MakeSubject(s, 10).data);
  subjects.push_back(world.MakeSubject(9, 2).data);  // too few neutral frames: skipped
  SourceFreeEvalOptions options;
  options.adapt_frames = 6;
  options.pretrain.hidden = 16;
  options.pretrain.epochs = 3;
  options.pairings = {PairingStrategy::kLandmark, PairingStrategy::kRandom};
  std::vector<std::string> log;
  options.log = [&](const std::string& line) { log.push_back(line); };
  auto eval = EvaluateSourceFree(subjects, world.head(), 0, options);
  ASSERT_TRUE(eval.ok()) << eval.status();
  EXPECT_EQ(eval->methods, (std::vector<std::string>{"source-only", "neutral-mean", "stats-align",
                                                     "pft-landmark", "pft-random"}));
  ASSERT_EQ(eval->subjects.size(), 4u);
  for (const SubjectEval& s : eval->subjects) {
    EXPECT_EQ(s.adapt_count, 6);
    EXPECT_EQ(s.test_count, 70 - 6);
    ASSERT_EQ(s.scores.size(), 5u);
    for (const MethodScore& m : s.scores) {
      EXPECT_GE(m.accuracy, 0);
      EXPECT_LE(m.accuracy, 1);
    }
  }
  ASSERT_EQ(eval->mean.size(), 5u);
  // The subject shift costs accuracy that neutral-mean subtraction wins back.
  EXPECT_GT(eval->mean[1].accuracy, eval->mean[0].accuracy);
  EXPECT_THAT(absl::StrJoin(log, "\n"), HasSubstr("skipped"));
  EXPECT_THAT(eval->Markdown(), HasSubstr("| subject | enroll | test | source-only acc |"));
  EXPECT_THAT(eval->Csv(),
              HasSubstr("subject,method,accuracy,macro_f1,adapt_frames,test_frames\n"));
  EXPECT_THAT(eval->Csv(), HasSubstr("mean,pft-random,"));

  EXPECT_FALSE(EvaluateSourceFree({subjects[0], subjects[1]}, world.head(), 0, options).ok());
}

}  // namespace
}  // namespace fer::pft
