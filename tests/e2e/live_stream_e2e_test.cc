// End-to-end: live streams that send faster than the server answers
// (StreamConfig.max_frame_lag_ms). Frames that arrive later than the
// stream's maximum lag are answered as skipped, in order, without being
// analyzed; frames on time are analyzed as always.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/metric_samples.h"
#include "tests/e2e/stream_predict_call.h"
#include "tests/e2e/video_frames.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;
using fer::v1::PredictRequest;
using fer::v1::PredictResponse;

constexpr int kFrames = 60;

const std::vector<std::string>& VideoFrames() { return testing::FranckFrames<kFrames>(); }

// Sends `frames` with timestamps `timestamps_us` from a writer thread, frame
// i at `send_interval` * i after the start (zero: all at once), while this
// thread reads the answers.
testing::PredictOutcome Stream(
    ExpressionService::Stub* stub, const std::vector<std::string>& frames,
    const std::vector<int64_t>& timestamps_us, uint32_t max_frame_lag_ms,
    std::chrono::milliseconds send_interval = std::chrono::milliseconds(0)) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto stream = stub->StreamPredict(&context);
  std::thread writer([&] {
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < frames.size(); ++i) {
      std::this_thread::sleep_until(start + send_interval * i);
      PredictRequest request;
      if (i == 0) request.mutable_config()->set_max_frame_lag_ms(max_frame_lag_ms);
      request.mutable_frame()->set_encoded(frames[i]);
      request.mutable_frame()->set_timestamp_us(timestamps_us[i]);
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });
  testing::PredictOutcome result;
  PredictResponse response;
  while (stream->Read(&response)) result.responses.push_back(response);
  writer.join();
  result.status = stream->Finish();
  return result;
}

// Timestamps `step_us` apart from an origin of the camera's own.
std::vector<int64_t> Timestamps(size_t count, int64_t step_us) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < count; ++i) out.push_back(1'000'000 + static_cast<int64_t>(i) * step_us);
  return out;
}

class LiveStreamE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new testing::FerserveProcess({"--max_stream_fps=0"}); }
  static void TearDownTestSuite() { delete server_; }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->Log();
    ASSERT_EQ(VideoFrames().size(), static_cast<size_t>(kFrames));
    stub_ = ExpressionService::NewStub(server_->channel());
  }
  double SkippedFramesMetric() {
    return testing::MetricValue(testing::ScrapeMetrics(server_->metrics_port()),
                                "ferserve_skipped_frames_total");
  }

  static testing::FerserveProcess* server_;
  std::unique_ptr<ExpressionService::Stub> stub_;
};
testing::FerserveProcess* LiveStreamE2eTest::server_ = nullptr;

TEST_F(LiveStreamE2eTest, FramesFasterThanTheServerAreSkippedInOrderWhenLate) {
  // A camera at 1,000 frames/s: far more than a frame's detection allows.
  const std::vector<int64_t> timestamps = Timestamps(kFrames, 1000);
  const double skipped_before = SkippedFramesMetric();
  const testing::PredictOutcome live = Stream(stub_.get(), VideoFrames(), timestamps, 10);
  ASSERT_TRUE(live.status.ok()) << live.status.error_message();
  ASSERT_EQ(live.responses.size(), static_cast<size_t>(kFrames));
  int skipped = 0;
  for (int i = 0; i < kFrames; ++i) {
    const PredictResponse& r = live.responses[i];
    EXPECT_EQ(r.frame_index(), static_cast<uint64_t>(i));
    EXPECT_EQ(r.timestamp_us(), timestamps[i]);
    if (r.skipped()) {
      ++skipped;
      EXPECT_EQ(r.faces_size(), 0) << i;
      EXPECT_FALSE(r.face_found()) << i;
      EXPECT_EQ(r.frame_width(), 0u) << i;
      EXPECT_FALSE(r.has_clip()) << i;
    } else {
      EXPECT_TRUE(r.face_found()) << i;  // franck is on every frame
      EXPECT_EQ(r.frame_width(), 360u) << i;
      EXPECT_TRUE(r.has_clip()) << i;
    }
  }
  EXPECT_FALSE(live.responses[0].skipped()) << "the first frame has no lag";
  EXPECT_GT(skipped, 0);
  EXPECT_EQ(SkippedFramesMetric() - skipped_before, skipped);

  // Without a maximum lag the same frames are all analyzed.
  const testing::PredictOutcome every = Stream(stub_.get(), VideoFrames(), timestamps, 0);
  ASSERT_TRUE(every.status.ok()) << every.status.error_message();
  ASSERT_EQ(every.responses.size(), static_cast<size_t>(kFrames));
  for (const PredictResponse& r : every.responses) {
    EXPECT_FALSE(r.skipped()) << r.frame_index();
    EXPECT_TRUE(r.face_found()) << r.frame_index();
  }
}

TEST_F(LiveStreamE2eTest, FramesOnTimeAreAllAnalyzed) {
  // 5 frames/s, sent on their clock: the server keeps up.
  const std::vector<std::string> frames(VideoFrames().begin(), VideoFrames().begin() + 8);
  const testing::PredictOutcome live =
      Stream(stub_.get(), frames, Timestamps(frames.size(), 200'000), 1000,
             std::chrono::milliseconds(200));
  ASSERT_TRUE(live.status.ok()) << live.status.error_message();
  ASSERT_EQ(live.responses.size(), frames.size());
  for (const PredictResponse& r : live.responses) {
    EXPECT_FALSE(r.skipped()) << r.frame_index();
    EXPECT_TRUE(r.face_found()) << r.frame_index();
  }
}

TEST_F(LiveStreamE2eTest, TimestampsThatDoNotIncreaseAreInvalidArgument) {
  const std::vector<std::string> frames(VideoFrames().begin(), VideoFrames().begin() + 3);
  // Frames without timestamps: all 0.
  const testing::PredictOutcome unset = Stream(stub_.get(), frames, {0, 0, 0}, 100);
  EXPECT_EQ(unset.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(unset.status.error_message().find("frame 1: timestamp_us"), std::string::npos)
      << unset.status.error_message();
  EXPECT_EQ(unset.responses.size(), 1u);
  // The server goes on serving.
  const testing::PredictOutcome next =
      Stream(stub_.get(), frames, Timestamps(frames.size(), 1000), 100);
  EXPECT_TRUE(next.status.ok()) << next.status.error_message();
  EXPECT_EQ(next.responses.size(), frames.size());
}

// Frames of many live streams that wait for the models past their maximum
// lag are skipped there too: no analyzed frame waited much longer.
TEST(LiveStreamQueueE2eTest, FramesThatWaitPastTheirLagForTheModelsAreSkipped) {
  testing::FerserveProcess server({"--inference_concurrency=1", "--max_stream_fps=0"});
  ASSERT_TRUE(server.ok()) << server.Log();
  ASSERT_EQ(VideoFrames().size(), static_cast<size_t>(kFrames));
  auto stub = ExpressionService::NewStub(server.channel());
  constexpr int kStreams = 6, kBurst = 20;
  const std::vector<std::string> frames(VideoFrames().begin(), VideoFrames().begin() + kBurst);
  std::vector<testing::PredictOutcome> results(kStreams);
  std::vector<std::thread> streams;
  for (int i = 0; i < kStreams; ++i) {
    streams.emplace_back(
        [&, i] { results[i] = Stream(stub.get(), frames, Timestamps(kBurst, 1000), 50); });
  }
  for (std::thread& t : streams) t.join();
  int analyzed = 0;
  for (const testing::PredictOutcome& r : results) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ASSERT_EQ(r.responses.size(), static_cast<size_t>(kBurst));
    for (const PredictResponse& answer : r.responses) analyzed += !answer.skipped();
  }
  EXPECT_GT(analyzed, 0);
  EXPECT_LT(analyzed, kStreams * kBurst);
  // One execution at a time and six streams: without skipping in the queue
  // frames would wait for up to five others' detection.
  const testing::MetricSamples metrics = testing::ScrapeMetrics(server.metrics_port());
  const double queued =
      testing::MetricValue(metrics, "ferserve_frame_stage_duration_seconds_count{stage=\"queue\"}");
  EXPECT_EQ(queued, analyzed);
  EXPECT_EQ(testing::HistogramCountAtMost(metrics, "ferserve_frame_stage_duration_seconds",
                                          "stage=\"queue\"", 0.1),
            queued)
      << "frames waited for the models past their 50 ms lag";
  // A frame is decoded once the models are free for it: those skipped while
  // waiting were never decoded.
  EXPECT_EQ(testing::MetricValue(metrics,
                                 "ferserve_frame_stage_duration_seconds_count{stage=\"decode\"}"),
            analyzed);
}

// A server pacing streams to --max_stream_fps paces the analyzed frames
// only: skipped ones are answered at once.
TEST(LiveStreamPacingE2eTest, SkippedFramesAreNotPaced) {
  testing::FerserveProcess server({"--max_stream_fps=5"});
  ASSERT_TRUE(server.ok()) << server.Log();
  ASSERT_EQ(VideoFrames().size(), static_cast<size_t>(kFrames));
  auto stub = ExpressionService::NewStub(server.channel());
  constexpr int kBurst = 20;
  const std::vector<std::string> frames(VideoFrames().begin(), VideoFrames().begin() + kBurst);
  const auto start = std::chrono::steady_clock::now();
  const testing::PredictOutcome live = Stream(stub.get(), frames, Timestamps(kBurst, 1000), 50);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(live.status.ok()) << live.status.error_message();
  ASSERT_EQ(live.responses.size(), static_cast<size_t>(kBurst));
  int skipped = 0;
  for (const PredictResponse& r : live.responses) skipped += r.skipped();
  EXPECT_GE(skipped, kBurst / 2);
  // Pacing every frame would take at least 19 intervals of 200 ms.
  EXPECT_LT(seconds, 3.0) << skipped << " skipped";
}

}  // namespace
}  // namespace fer
