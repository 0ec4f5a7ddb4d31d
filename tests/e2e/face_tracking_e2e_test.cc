// End-to-end: StreamPredict with the detector on every n-th frame and
// landmark tracking in between (StreamConfig.detection_interval,
// --detection_interval), on consecutive frames of a real video.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"
#include "lib/model/face_types.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/metric_samples.h"
#include "tests/e2e/stream_predict_call.h"
#include "tests/e2e/video_frames.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;
using fer::v1::PredictResponse;

constexpr int kServerInterval = 3;  // the server's --detection_interval
constexpr int kFrames = 40;

const std::vector<std::string>& VideoFrames() { return testing::FranckFrames<kFrames>(); }

// Streams the video's frames with `interval` in the first message's config
// (0: the server default).
testing::PredictOutcome Stream(ExpressionService::Stub* stub, uint32_t interval) {
  fer::v1::StreamConfig config;
  config.set_detection_interval(interval);
  return testing::StreamInLockstep(stub, testing::FrameRequests(VideoFrames(), config),
                                   std::chrono::seconds(120));
}

Box BoxOf(const fer::v1::Box& b) { return {b.x(), b.y(), b.width(), b.height()}; }

class FaceTrackingE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::FerserveProcess(
        {"--detection_interval=" + std::to_string(kServerInterval), "--max_stream_fps=0"});
  }
  static void TearDownTestSuite() { delete server_; }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->Log();
    ASSERT_EQ(VideoFrames().size(), static_cast<size_t>(kFrames));
    stub_ = ExpressionService::NewStub(server_->channel());
  }

  static testing::FerserveProcess* server_;
  std::unique_ptr<ExpressionService::Stub> stub_;
};
testing::FerserveProcess* FaceTrackingE2eTest::server_ = nullptr;

TEST_F(FaceTrackingE2eTest, DetectorRunsOnEveryNthFrameAndTrackedAnswersAgree) {
  const testing::PredictOutcome every = Stream(stub_.get(), 1);
  ASSERT_TRUE(every.status.ok()) << every.status.error_message();
  ASSERT_EQ(every.responses.size(), static_cast<size_t>(kFrames));
  for (const PredictResponse& r : every.responses) {
    EXPECT_TRUE(r.detected()) << r.frame_index();
    ASSERT_TRUE(r.face_found()) << r.frame_index();  // franck is on every frame
  }

  for (const uint32_t interval : {4u, 0u}) {
    const int n = interval == 0 ? kServerInterval : static_cast<int>(interval);
    SCOPED_TRACE(::testing::Message() << "detection_interval " << interval);
    const testing::PredictOutcome tracked = Stream(stub_.get(), interval);
    ASSERT_TRUE(tracked.status.ok()) << tracked.status.error_message();
    ASSERT_EQ(tracked.responses.size(), static_cast<size_t>(kFrames));
    int detected = 0, same_label = 0;
    double iou = 0;
    for (int i = 0; i < kFrames; ++i) {
      const PredictResponse& a = every.responses[i];
      const PredictResponse& b = tracked.responses[i];
      // Every n-th frame runs the detector (others may too, on a lost track).
      if (i % n == 0) EXPECT_TRUE(b.detected()) << i;
      detected += b.detected();
      ASSERT_TRUE(b.face_found()) << i;
      ASSERT_EQ(b.faces_size(), 1);
      same_label += a.faces(0).top_label() == b.faces(0).top_label();
      iou += IoU(BoxOf(a.faces(0).box()), BoxOf(b.faces(0).box()));
      // Tracked boxes keep their last detection's score.
      if (!b.detected()) EXPECT_GT(b.faces(0).score(), 0.5f) << i;
    }
    EXPECT_LT(detected, kFrames / 2) << "the tracker hardly ever kept its track";
    EXPECT_GE(same_label, kFrames * 9 / 10);
    EXPECT_GT(iou / kFrames, 0.85);
  }

  const testing::MetricSamples metrics = testing::ScrapeMetrics(server_->metrics_port());
  EXPECT_GT(testing::MetricValue(metrics, "ferserve_tracked_frames_total"), 0);
  EXPECT_GE(testing::MetricValue(metrics, "ferserve_lost_tracks_total"), 0);
}

// (A stream asking for an interval out of range: stream_predict_e2e_test's
// BadStreamConfigIsRefusedBeforeAnyAnswer.)
TEST(FaceTrackingFlagsTest, ServerRefusesAnIntervalOutOfRange) {
  testing::FerserveProcess server({"--detection_interval=0"});
  EXPECT_FALSE(server.ok());
  EXPECT_NE(server.Log().find("--detection_interval"), std::string::npos) << server.Log();
}

}  // namespace
}  // namespace fer
