// End-to-end: the real ferctl binary, run as a subprocess against the real
// ferserve on loopback (RocksDB store in a fresh temp folder).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>
#include <regex>
#include <string>
#include <vector>

#include "lib/vision/video_reader.h"
#include "tests/e2e/ferctl_runner.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/free_port.h"
#include "tests/process_temp_dir.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

using testing::ChildResult;

using testing::CountLinesMatching;
constexpr int kUsage = testing::kFerctlUsage;
constexpr int kInputError = testing::kFerctlInputError;
constexpr int kUnreachable = testing::kFerctlUnreachable;
constexpr int kDeadlineExceeded = testing::kFerctlDeadlineExceeded;
constexpr int kNotFound = testing::kFerctlNotFound;
constexpr int kRejected = testing::kFerctlRejected;

// Label colors of the plot (BGR, client/ferctl/label_colors.cc).
const cv::Vec3b kHappyColor(0, 190, 255);

std::string Franck() { return testing::Video("franck.mp4"); }

std::string TempPath(const std::string& name) {
  return testing::ProcessTempDir() + "ferctl_e2e_" + name;
}

class FerctlE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new testing::FerserveProcess(); }
  static void TearDownTestSuite() { delete server_; }
  void SetUp() override { ASSERT_TRUE(server_->ok()) << server_->Log(); }
  void TearDown() override { EXPECT_TRUE(server_->running()) << server_->Log(); }

  // ferctl against the suite's server.
  static ChildResult Ferctl(std::vector<std::string> args) {
    return testing::RunFerctlOn(server_->port(), std::move(args));
  }
  static ChildResult FerctlAt(std::vector<std::string> args) {
    return testing::RunFerctl(std::move(args));
  }

  static testing::FerserveProcess* server_;
};

testing::FerserveProcess* FerctlE2eTest::server_ = nullptr;

TEST_F(FerctlE2eTest, HelpListsCommandsFlagsAndExitCodes) {
  const ChildResult r = FerctlAt({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* word : {"enroll", "adapt", "predict", "profile get", "profile delete", "health",
                           "model info", "--address", "--tls_ca", "--token", "--deadline",
                           "--annotate", "--plot", "--compare", "exit status", "NOT_FOUND"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word << "\n" << r.out;
  }
}

TEST_F(FerctlE2eTest, ModelInfoAndHealth) {
  const ChildResult info = Ferctl({"model", "info"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("neutral happy sad angry fearful disgusted surprised"), std::string::npos)
      << info.out;
  EXPECT_NE(info.out.find("feature_dim            256"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("device                 cpu"), std::string::npos) << info.out;

  const ChildResult health = Ferctl({"health", "--token=secret"});
  ASSERT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(CountLinesMatching(health.out, std::regex("SERVING$")), 2) << health.out;
  EXPECT_NE(health.out.find("fer.v1.ExpressionService"), std::string::npos) << health.out;
}

TEST_F(FerctlE2eTest, EnrollFromVideoThenProfileGetAndDelete) {
  // The first 4 s of franck.mp4 at 2 frames/s: 8 frames of a neutral face.
  const ChildResult enroll =
      Ferctl({"enroll", "--user=franck", "--video=" + Franck(), "--end=4", "--fps=2"});
  ASSERT_EQ(enroll.exit_code, 0) << enroll.err << enroll.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      enroll.out, m,
      std::regex(R"(franck: (\d+) accepted, (\d+) rejected of 8 frames; (\d+) neutral features)")))
      << enroll.out;
  const int accepted = std::stoi(m[1]);
  const int rejected = std::stoi(m[2]);
  EXPECT_EQ(accepted + rejected, 8);
  EXPECT_GE(accepted, 6) << enroll.out;
  EXPECT_EQ(std::stoi(m[3]), accepted);
  // One verdict row per rejected frame, naming its time in the video, and a
  // warning for the frames where franck smiles (1 s to 3.5 s).
  const int warnings = CountLinesMatching(
      enroll.out, std::regex(R"( s\s+ACCEPTED_WITH_WARNING\s+\d\.\d+  warning)"));
  EXPECT_EQ(CountLinesMatching(enroll.out, std::regex(R"(franck\.mp4 @ \d+\.\d+ s\s+[A-Z_]+)")),
            rejected + warnings)
      << enroll.out;
  EXPECT_GE(warnings, 4) << enroll.out;
  // The summary counts the rows by the same labels the rows carry.
  EXPECT_NE(enroll.out.find("ACCEPTED_WITH_WARNING " + std::to_string(warnings)), std::string::npos)
      << enroll.out;

  const ChildResult get = Ferctl({"profile", "get", "--user=franck"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_NE(get.out.find("enrolled_features  " + std::to_string(accepted)), std::string::npos)
      << get.out;
  EXPECT_NE(get.out.find("version            0 (never adapted)"), std::string::npos) << get.out;

  const ChildResult del = Ferctl({"profile", "delete", "--user=franck"});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  EXPECT_NE(del.out.find("deleted user franck"), std::string::npos) << del.out;
  const ChildResult gone = Ferctl({"profile", "get", "--user=franck"});
  EXPECT_EQ(gone.exit_code, kNotFound) << gone.out;
  EXPECT_NE(gone.err.find("NOT_FOUND"), std::string::npos) << gone.err;
}

TEST_F(FerctlE2eTest, EnrollFromImageFolder) {
  const std::string dir = TempPath("enroll_images");
  std::filesystem::create_directories(dir);
  for (const char* n : {"000000", "000200", "000400"}) {
    std::filesystem::copy_file(testing::FixturesDir() + "/frames/franck_" + std::string(n) + ".png",
                               dir + "/" + n + ".png",
                               std::filesystem::copy_options::overwrite_existing);
  }
  const ChildResult enroll = Ferctl({"enroll", "--user=images", "--images=" + dir});
  EXPECT_EQ(enroll.exit_code, 0) << enroll.err << enroll.out;
  EXPECT_NE(enroll.out.find("images: 3 accepted, 0 rejected of 3 frames"), std::string::npos)
      << enroll.out;
  std::filesystem::remove_all(dir);
}

TEST_F(FerctlE2eTest, PredictPrintsOneRowPerFrame) {
  const ChildResult r = Ferctl({"predict", "--video=" + Franck(), "--end=2", "--fps=2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("frame   time_s top"), std::string::npos) << r.out;
  // Rows: index, time, a label with its probability, 7 probabilities, model.
  const std::regex row(
      R"(^\s+\d+\s+\d+\.\d{3} [a-z]+\s+[01]\.\d{3} (\s+[01]\.\d{3}){7}\s+generic)");
  EXPECT_EQ(CountLinesMatching(r.out, row), 4) << r.out;
  // franck looks neutral, then smiles from 1 s on.
  EXPECT_EQ(CountLinesMatching(r.out, std::regex(R"(^\s+[01]\s+0\.[05]00 neutral )")), 2) << r.out;
  EXPECT_EQ(CountLinesMatching(r.out, std::regex(R"(^\s+[23]\s+1\.[05]00 happy )")), 2) << r.out;
  EXPECT_NE(r.out.find("4 frames, 4 with a face; generic: happy 50.0%, neutral 50.0%"),
            std::string::npos)
      << r.out;
}

TEST_F(FerctlE2eTest, AnnotateWritesAVideoOpenCvReadsBack) {
  const std::string out = TempPath("annotated.mp4");
  const ChildResult r = Ferctl(
      {"predict", "--video=" + Franck(), "--end=1.2", "--fps=5", "--quiet", "--annotate=" + out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(6 frames)"), std::string::npos) << r.out;

  auto reader = VideoReader::Open(Franck());
  ASSERT_TRUE(reader.ok());
  const RgbImage first = *(*reader)->Next();
  cv::VideoCapture video(out);
  ASSERT_TRUE(video.isOpened()) << out;
  int frames = 0;
  cv::Mat frame;
  while (video.read(frame)) {
    EXPECT_EQ(frame.cols, first.width + 220);
    EXPECT_EQ(frame.rows, std::max(first.height, 240));
    ++frames;
  }
  EXPECT_EQ(frames, 6);
  std::filesystem::remove(out);
}

TEST_F(FerctlE2eTest, PlotDrawsOnePanelPerRun) {
  const std::string single = TempPath("single.png");
  const ChildResult r = Ferctl(
      {"predict", "--video=" + Franck(), "--end=3", "--fps=2", "--quiet", "--plot=" + single});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const cv::Mat plot = cv::imread(single);
  ASSERT_FALSE(plot.empty()) << single;
  EXPECT_EQ(plot.cols, 960);
  EXPECT_EQ(plot.rows, 260);
  // Drawn pixels, and franck's smile from 1 s on: the happy line near 1.0
  // (rows 30-60 of the panel, left of the legend).
  int drawn = 0;
  int happy_high = 0;
  for (int y = 0; y < plot.rows; ++y) {
    for (int x = 0; x < plot.cols; ++x) {
      const cv::Vec3b p = plot.at<cv::Vec3b>(y, x);
      drawn += p != cv::Vec3b(255, 255, 255);
      happy_high += y >= 30 && y < 60 && x < 840 && p == kHappyColor;
    }
  }
  EXPECT_GT(drawn, 5000);
  EXPECT_GT(happy_high, 200);

  // --compare: the generic run and the user's run, one panel each. Without an
  // adapted profile the user's answers come from the generic model, and say so.
  const std::string both = TempPath("both.png");
  const ChildResult c = Ferctl({"predict", "--video=" + Franck(), "--end=2", "--fps=2", "--quiet",
                                "--user=nobody", "--compare", "--plot=" + both});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("generic run: 4 frames"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("note: "), std::string::npos) << c.out;
  const cv::Mat two = cv::imread(both);
  EXPECT_EQ(two.cols, 960);
  EXPECT_EQ(two.rows, 520);
  std::filesystem::remove(single);
  std::filesystem::remove(both);
}

TEST_F(FerctlE2eTest, ServerNotRunningIsAClearError) {
  const std::string address = "127.0.0.1:" + std::to_string(testing::FreePort());
  const ChildResult r = FerctlAt({"--address=" + address, "--deadline=5s", "model", "info"});
  EXPECT_EQ(r.exit_code, kUnreachable);
  EXPECT_NE(r.err.find("ferctl: cannot reach ferserve at " + address), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  // A TLS client against a plaintext server cannot connect either.
  const ChildResult tls = Ferctl({"--tls", "--deadline=5s", "health"});
  EXPECT_NE(tls.exit_code, 0);
  EXPECT_TRUE(tls.exit_code == kUnreachable || tls.exit_code == kDeadlineExceeded) << tls.err;
}

TEST_F(FerctlE2eTest, BadInputsGetDistinctExitCodes) {
  const ChildResult unknown_user = Ferctl({"profile", "delete", "--user=nobody_here"});
  EXPECT_EQ(unknown_user.exit_code, kNotFound) << unknown_user.err;

  const ChildResult bad_user = Ferctl({"profile", "get", "--user=not a valid id!"});
  EXPECT_EQ(bad_user.exit_code, kRejected) << bad_user.err;
  EXPECT_NE(bad_user.err.find("INVALID_ARGUMENT"), std::string::npos) << bad_user.err;

  const ChildResult missing = Ferctl({"predict", "--video=/no/such/video.mp4"});
  EXPECT_EQ(missing.exit_code, kInputError);
  EXPECT_NE(missing.err.find("no such file: /no/such/video.mp4"), std::string::npos) << missing.err;

  // A file that is not a video, and an image folder with a file that is not an image.
  const std::string text = TempPath("not_a_video.mp4");
  std::ofstream(text) << "not a video";
  const ChildResult not_video = Ferctl({"predict", "--video=" + text});
  EXPECT_EQ(not_video.exit_code, kInputError) << not_video.err;
  const std::string dir = TempPath("bad_images");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/a.jpg") << "not an image";
  const ChildResult not_image = Ferctl({"enroll", "--user=x", "--images=" + dir});
  EXPECT_EQ(not_image.exit_code, kInputError) << not_image.err;
  // The file is named once, with the reason.
  const std::string named = dir + "/a.jpg: unsupported image format";
  EXPECT_NE(not_image.err.find(named), std::string::npos) << not_image.err;
  EXPECT_EQ(not_image.err.find("a.jpg"), not_image.err.rfind("a.jpg")) << not_image.err;

  EXPECT_EQ(Ferctl({"predict", "--video=" + Franck(), "--images=" + dir}).exit_code, kUsage);
  EXPECT_EQ(Ferctl({"frobnicate"}).exit_code, kUsage);
  EXPECT_EQ(Ferctl({"model", "info", "--no_such_flag"}).exit_code, kUsage);
  EXPECT_EQ(Ferctl({"predict", "--fps=fast", "--video=" + Franck()}).exit_code, kUsage);
  EXPECT_EQ(Ferctl({"enroll", "--video=" + Franck()}).exit_code, kUsage);  // no --user
  EXPECT_EQ(Ferctl({"--tls_ca=/no/such/ca.pem", "health"}).exit_code, kUsage);
  // gRPC rounds deadlines up to its millisecond clock, so a unary call
  // answered within a millisecond can beat even --deadline=1us; a stream of a
  // whole video cannot beat 1 ms.
  const ChildResult late = Ferctl({"--deadline=1ms", "predict", "--video=" + Franck()});
  EXPECT_EQ(late.exit_code, kDeadlineExceeded) << late.err;
  std::filesystem::remove(text);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fer
