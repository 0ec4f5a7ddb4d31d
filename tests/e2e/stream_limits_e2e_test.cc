// End-to-end: the server's limits on streams and connections, on the real
// ferserve binary: idle streams are cancelled, streams past their maximum
// duration end UNAVAILABLE, fast streams are paced to --max_stream_fps, and
// connections past --max_connection_age are closed.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/personalization_client.h"
#include "tests/e2e/stream_predict_call.h"
#include "tests/http_get.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class StreamLimitsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    frames_ = testing::VideoFrames("franck.mp4", 0, 8, 5);
    ASSERT_EQ(frames_.size(), 8u);
  }
  std::vector<std::string> frames_;
};

TEST_F(StreamLimitsE2eTest, IdleStreamsAreCancelledAndFastOnesPaced) {
  testing::FerserveProcess server({"--stream_idle_timeout=2s", "--max_stream_fps=4"});
  ASSERT_TRUE(server.ok()) << server.Log();
  auto stub = ExpressionService::NewStub(server.channel());

  // 8 frames written at once take at least 7 intervals of 1/4 s.
  {
    grpc::ClientContext context;
    context.set_deadline(testing::In(60));
    auto stream = stub->StreamPredict(&context);
    const auto start = Clock::now();
    for (const std::string& frame : frames_)
      ASSERT_TRUE(stream->Write(testing::FrameRequest(frame)));
    stream->WritesDone();
    int answers = 0;
    fer::v1::PredictResponse response;
    while (stream->Read(&response)) ++answers;
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(answers, 8);  // paced, none dropped
    EXPECT_GE(SecondsSince(start), 1.7);
  }

  // A StreamPredict that goes quiet after one frame is cancelled.
  {
    grpc::ClientContext context;
    context.set_deadline(testing::In(60));
    auto stream = stub->StreamPredict(&context);
    ASSERT_TRUE(stream->Write(testing::FrameRequest(frames_[0])));
    fer::v1::PredictResponse response;
    ASSERT_TRUE(stream->Read(&response));
    const auto quiet = Clock::now();
    EXPECT_FALSE(stream->Read(&response));
    const grpc::Status status = stream->Finish();
    EXPECT_FALSE(status.ok());
    EXPECT_GE(SecondsSince(quiet), 1.5);
    EXPECT_LT(SecondsSince(quiet), 10);
  }

  // So is an EnrollNeutral that never sends anything.
  {
    grpc::ClientContext context;
    context.set_deadline(testing::In(60));
    fer::v1::EnrollResponse response;
    const auto start = Clock::now();
    auto writer = stub->EnrollNeutral(&context, &response);
    const grpc::Status status = writer->Finish();  // never half-closes: waits for the server
    EXPECT_FALSE(status.ok());
    EXPECT_LT(SecondsSince(start), 10);
  }
  EXPECT_TRUE(server.running());
  const std::string metrics = testing::HttpGet(server.metrics_port(), "/metrics");
  EXPECT_NE(
      metrics.find("ferserve_requests_total{code=\"DEADLINE_EXCEEDED\",rpc=\"StreamPredict\"}"),
      std::string::npos)
      << metrics;
  // The default call log (errors) has both cancelled calls, not the paced
  // one. A call's line is written once its handler returns, which may be
  // after its client saw the cancellation.
  const std::string log = server.LogOnceItHas("call rpc=EnrollNeutral ");
  EXPECT_NE(log.find("call rpc=StreamPredict code=DEADLINE_EXCEEDED"), std::string::npos) << log;
  EXPECT_NE(log.find(" frames=1 message=\"no message within --stream_idle_timeout; stream "
                     "cancelled\"\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("call rpc=EnrollNeutral code=DEADLINE_EXCEEDED"), std::string::npos) << log;
  EXPECT_NE(log.find(" frames=0 message="), std::string::npos) << log;
  EXPECT_EQ(log.find("code=OK"), std::string::npos) << log;
}

TEST_F(StreamLimitsE2eTest, StreamsPastTheirMaximumDurationEndUnavailable) {
  testing::FerserveProcess server({"--max_stream_duration=1s"});
  ASSERT_TRUE(server.ok()) << server.Log();
  auto stub = ExpressionService::NewStub(server.channel());
  grpc::ClientContext context;
  context.set_deadline(testing::In(60));
  auto stream = stub->StreamPredict(&context);
  fer::v1::PredictResponse response;
  ASSERT_TRUE(stream->Write(testing::FrameRequest(frames_[0])));
  ASSERT_TRUE(stream->Read(&response));
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  stream->Write(testing::FrameRequest(frames_[1]));
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("--max_stream_duration"), std::string::npos)
      << status.error_message();
}

TEST_F(StreamLimitsE2eTest, ConnectionsPastTheirMaximumAgeAreClosed) {
  testing::FerserveProcess server({"--max_connection_age=1s", "--max_connection_age_grace=1s"});
  ASSERT_TRUE(server.ok()) << server.Log();
  auto stub = ExpressionService::NewStub(server.channel());
  grpc::ClientContext context;
  context.set_deadline(testing::In(60));
  auto stream = stub->StreamPredict(&context);
  const auto start = Clock::now();
  fer::v1::PredictResponse response;
  int answers = 0;
  // A stream that would run 20 s ends once the connection's age and grace
  // are over.
  while (SecondsSince(start) < 20 && stream->Write(testing::FrameRequest(frames_[answers % 8])) &&
         stream->Read(&response)) {
    ++answers;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const grpc::Status status = stream->Finish();
  EXPECT_FALSE(status.ok());
  EXPECT_GT(answers, 0);
  EXPECT_LT(SecondsSince(start), 15);
  // A new call on the same channel reconnects and works.
  grpc::ClientContext info_context;
  info_context.set_deadline(testing::In(30));
  fer::v1::ModelInfo info;
  EXPECT_TRUE(stub->GetModelInfo(&info_context, {}, &info).ok());
}

}  // namespace
}  // namespace fer
