// End-to-end: ferctl enroll -> adapt -> personalized predict (table,
// --compare --plot, --annotate) against the real ferserve with the default
// PFT bundle (CTest fixture `pft_bundle`).
#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <regex>
#include <string>

#include "tests/e2e/ferctl_runner.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/personalization_client.h"
#include "tests/process_temp_dir.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

using testing::ChildResult;
using testing::CountLinesMatching;

std::string Franck() { return testing::Video("franck.mp4"); }

std::string TempPath(const std::string& name) {
  return testing::ProcessTempDir() + "ferctl_personalization_" + name;
}

class FerctlPersonalizationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<testing::FerserveProcess>(
        std::vector<std::string>{"--pft_bundle=" + testing::PftBundlePath()});
    ASSERT_TRUE(server_->ok()) << server_->Log();
  }
  void TearDown() override { EXPECT_TRUE(server_->running()) << server_->Log(); }

  ChildResult Ferctl(std::vector<std::string> args) {
    return testing::RunFerctlOn(server_->port(), std::move(args));
  }

  std::unique_ptr<testing::FerserveProcess> server_;
};

TEST_F(FerctlPersonalizationE2eTest, EnrollAdaptThenPredictPersonalized) {
  // franck's opening 20 s, 2 frames per second.
  const ChildResult enroll =
      Ferctl({"enroll", "--user=franck", "--video=" + Franck(), "--end=20", "--fps=2"});
  ASSERT_EQ(enroll.exit_code, 0) << enroll.err << enroll.out;
  EXPECT_NE(enroll.out.find("of 40 frames"), std::string::npos) << enroll.out;

  const ChildResult adapt = Ferctl({"adapt", "--user=franck"});
  ASSERT_EQ(adapt.exit_code, 0) << adapt.err << adapt.out;
  // Live progress: one line per step, numbered from 1, with the loss terms.
  const int steps = CountLinesMatching(adapt.out, std::regex(R"(^step\s+\d+/40\s+loss \d+\.\d+)"));
  EXPECT_GE(steps, 1) << adapt.out;
  EXPECT_NE(adapt.out.find("step    1/40"), std::string::npos) << adapt.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(adapt.out, m, std::regex(R"(franck: profile version (\d+))")))
      << adapt.out;
  const std::string version = m[1];
  EXPECT_GE(std::stoi(version), 1);
  ASSERT_TRUE(std::regex_search(adapt.out, m, std::regex(R"(steps\s+(\d+))"))) << adapt.out;
  EXPECT_EQ(std::stoi(m[1]), steps) << adapt.out;
  EXPECT_NE(adapt.out.find("neutral rate"), std::string::npos) << adapt.out;

  const ChildResult profile = Ferctl({"profile", "get", "--user=franck"});
  ASSERT_EQ(profile.exit_code, 0) << profile.err;
  EXPECT_NE(profile.out.find("version            " + version + "\n"), std::string::npos)
      << profile.out;
  EXPECT_NE(profile.out.find("quality report:"), std::string::npos) << profile.out;

  // Every row personalized with the new version; --compare also runs the
  // generic model, and the plot has one panel for each.
  const std::string plot = TempPath("compare.png");
  const std::string video = TempPath("annotated.mp4");
  const ChildResult predict =
      Ferctl({"predict", "--user=franck", "--video=" + Franck(), "--start=60", "--end=62",
              "--fps=2", "--compare", "--plot=" + plot, "--annotate=" + video});
  ASSERT_EQ(predict.exit_code, 0) << predict.err << predict.out;
  EXPECT_EQ(
      CountLinesMatching(predict.out, std::regex("personalized v" + version + R"(\s+\d+\.\d$)")), 4)
      << predict.out;
  EXPECT_NE(predict.out.find("generic run: 4 frames, 4 with a face; generic:"), std::string::npos)
      << predict.out;
  EXPECT_NE(predict.out.find("4 frames, 4 with a face; personalized v" + version + ":"),
            std::string::npos)
      << predict.out;
  const cv::Mat two = cv::imread(plot);
  EXPECT_EQ(two.cols, 960);
  EXPECT_EQ(two.rows, 520);
  cv::VideoCapture annotated(video);
  int frames = 0;
  cv::Mat frame;
  while (annotated.read(frame)) ++frames;
  EXPECT_EQ(frames, 4);
  std::filesystem::remove(plot);
  std::filesystem::remove(video);
}

TEST_F(FerctlPersonalizationE2eTest, AdaptErrorsHaveTheirExitCodes) {
  const ChildResult unknown = Ferctl({"adapt", "--user=nobody"});
  EXPECT_EQ(unknown.exit_code, testing::kFerctlNotFound) << unknown.err;
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;

  // Two enrolled frames are too few to adapt on.
  ASSERT_EQ(Ferctl({"enroll", "--user=few", "--video=" + Franck(), "--end=1", "--fps=2"}).exit_code,
            0);
  const ChildResult few = Ferctl({"adapt", "--user=few"});
  EXPECT_EQ(few.exit_code, testing::kFerctlRejected) << few.err;
  EXPECT_NE(few.err.find("FAILED_PRECONDITION"), std::string::npos) << few.err;
}

}  // namespace
}  // namespace fer
