// End-to-end: draining on SIGTERM and the concurrent stream limit, on the
// real ferserve binary.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "fer/v1/expression_service.grpc.pb.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/stream_predict_call.h"
#include "tests/file_contents.h"
#include "tests/parity/reference_outputs.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;
using fer::v1::PredictRequest;
using fer::v1::PredictResponse;
using grpc::health::v1::HealthCheckResponse;

PredictRequest Frame(const std::string& file) {
  return testing::FrameRequest(testing::ReadFileContents(testing::FramesDir() + "/" + file));
}

TEST(DrainE2eTest, SigtermTurnsHealthNotServingAndLetsOpenStreamsFinish) {
  testing::FerserveProcess server({"--grace_period=20s"});
  ASSERT_TRUE(server.ok()) << server.Log();
  auto stub = ExpressionService::NewStub(server.channel());

  // A health watcher sees SERVING, then NOT_SERVING.
  grpc::ClientContext watch_context;
  grpc::health::v1::HealthCheckRequest watch_request;
  auto health = grpc::health::v1::Health::NewStub(server.channel());
  auto watch = health->Watch(&watch_context, watch_request);
  HealthCheckResponse status;
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::SERVING);

  grpc::ClientContext context;
  auto stream = stub->StreamPredict(&context);
  PredictResponse response;
  ASSERT_TRUE(stream->Write(Frame("franck_000000.png")));
  ASSERT_TRUE(stream->Read(&response));

  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), HealthCheckResponse::NOT_SERVING);

  // New streams are refused while draining.
  grpc::ClientContext refused_context;
  auto refused = stub->StreamPredict(&refused_context);
  refused->Write(Frame("franck_000200.png"));
  refused->WritesDone();
  while (refused->Read(&response)) {
  }
  const grpc::Status refused_status = refused->Finish();
  EXPECT_EQ(refused_status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(refused_status.error_message().find("shutting down"), std::string::npos);

  // The open stream keeps being served, then finishes cleanly.
  ASSERT_TRUE(stream->Write(Frame("franck_002400.png")));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.frame_index(), 1u);
  EXPECT_TRUE(response.face_found());
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  watch_context.TryCancel();

  const int exit_status = server.WaitExit(std::chrono::seconds(30));
  ASSERT_NE(exit_status, -1) << "server did not exit after its streams finished";
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0) << server.Log();
  EXPECT_NE(server.Log().find("all streams finished"), std::string::npos) << server.Log();
}

TEST(DrainE2eTest, GracePeriodBoundsAStreamThatNeverEnds) {
  testing::FerserveProcess server({"--grace_period=1s"});
  ASSERT_TRUE(server.ok()) << server.Log();
  auto stub = ExpressionService::NewStub(server.channel());
  grpc::ClientContext context;
  auto stream = stub->StreamPredict(&context);
  PredictResponse response;
  ASSERT_TRUE(stream->Write(Frame("franck_000000.png")));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_EQ(kill(server.pid(), SIGTERM), 0);
  // The client never half-closes; the server cancels it after the grace period.
  const int exit_status = server.WaitExit(std::chrono::seconds(30));
  ASSERT_NE(exit_status, -1);
  EXPECT_NE(server.Log().find("grace period over"), std::string::npos) << server.Log();
  EXPECT_FALSE(stream->Finish().ok());
}

TEST(DrainE2eTest, StreamsBeyondTheLimitGetResourceExhausted) {
  testing::FerserveProcess server({"--max_concurrent_streams=1"});
  ASSERT_TRUE(server.ok()) << server.Log();
  auto stub = ExpressionService::NewStub(server.channel());
  grpc::ClientContext first_context;
  auto first = stub->StreamPredict(&first_context);
  PredictResponse response;
  ASSERT_TRUE(first->Write(Frame("franck_000000.png")));
  ASSERT_TRUE(first->Read(&response));

  grpc::ClientContext second_context;
  auto second = stub->StreamPredict(&second_context);
  second->WritesDone();
  while (second->Read(&response)) {
  }
  const grpc::Status status = second->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("limit 1"), std::string::npos);

  first->WritesDone();
  EXPECT_TRUE(first->Finish().ok());
  // The slot is free again.
  grpc::ClientContext third_context;
  auto third = stub->StreamPredict(&third_context);
  ASSERT_TRUE(third->Write(Frame("franck_000200.png")));
  ASSERT_TRUE(third->Read(&response));
  third->WritesDone();
  EXPECT_TRUE(third->Finish().ok());
}

}  // namespace
}  // namespace fer
