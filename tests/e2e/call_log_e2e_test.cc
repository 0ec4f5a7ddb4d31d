// End-to-end: ferserve's call log (--call_log, --call_log_rate) on the real
// binary: one logfmt line per finished call with its tenant, peer and, for
// streams, frames; at most --call_log_rate lines per second, the dropped
// ones counted in the next line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "lib/serving/tenant_tokens.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/personalization_client.h"
#include "tests/e2e/stream_predict_call.h"
#include "tests/process_temp_dir.h"

namespace fer {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The server's call log lines, without the "ferserve: " prefix.
std::vector<std::string> CallLogLines(const std::string& log) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::ConsumePrefix(&line, "ferserve: call") && !line.empty()) {
      lines.push_back("call" + std::string(line));
    }
  }
  return lines;
}

grpc::Status GetModelInfo(fer::v1::ExpressionService::Stub* stub, const std::string& token) {
  grpc::ClientContext context;
  context.set_deadline(testing::In(30));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  fer::v1::ModelInfo info;
  return stub->GetModelInfo(&context, {}, &info);
}

void Pause(int milliseconds) {
  std::this_thread::sleep_for(std::chrono::milliseconds(milliseconds));
}

TEST(CallLogE2eTest, LogsEachCallWithinItsRate) {
  const std::string tokens = testing::ProcessTempDir() + "call_log_tokens";
  std::ofstream(tokens) << "acme " << TenantTokens::HashToken("acme-token") << "\n";
  testing::FerserveProcess server(
      {"--auth_tokens_file=" + tokens, "--call_log=all", "--call_log_rate=2"});
  ASSERT_TRUE(server.ok()) << server.Log();
  auto stub = fer::v1::ExpressionService::NewStub(server.channel());

  // A call of tenant acme, then one without a token (two lines: the burst).
  ASSERT_TRUE(GetModelInfo(stub.get(), "acme-token").ok());
  ASSERT_EQ(GetModelInfo(stub.get(), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  Pause(1100);  // the bucket refills

  // A stream of three frames.
  const std::vector<std::string> frames = testing::VideoFrames("franck.mp4", 0, 3, 5);
  ASSERT_EQ(frames.size(), 3u);
  {
    grpc::ClientContext context;
    context.set_deadline(testing::In(60));
    context.AddMetadata("authorization", "Bearer acme-token");
    auto stream = stub->StreamPredict(&context);
    fer::v1::PredictResponse response;
    for (const std::string& frame : frames) {
      ASSERT_TRUE(stream->Write(testing::FrameRequest(frame)));
      ASSERT_TRUE(stream->Read(&response));
    }
    stream->WritesDone();
    ASSERT_TRUE(stream->Finish().ok());
  }
  Pause(1100);

  // Six calls at once: two fit in the bucket, the rest are dropped and
  // counted in the line of the next call written.
  for (int i = 0; i < 6; ++i) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer acme-token");
    fer::v1::GetProfileRequest request;
    request.set_user_id("nobody");
    fer::v1::Profile profile;
    ASSERT_EQ(stub->GetProfile(&context, request, &profile).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  Pause(600);
  ASSERT_TRUE(GetModelInfo(stub.get(), "acme-token").ok());

  // A call's line is written once its handler returns, which may be after
  // its client has the answer: wait for the last one.
  const std::vector<std::string> lines =
      CallLogLines(server.LogOnceItHas("per second)\nferserve: call rpc=GetModelInfo code=OK"));
  ASSERT_GE(lines.size(), 6u) << server.Log();
  EXPECT_THAT(lines[0], HasSubstr("call rpc=GetModelInfo code=OK duration_ms="));
  EXPECT_THAT(lines[0], HasSubstr(" tenant=acme peer=ipv4:127.0.0.1:"));
  EXPECT_THAT(lines[1], HasSubstr("call rpc=GetModelInfo code=UNAUTHENTICATED"));
  EXPECT_THAT(lines[1], Not(HasSubstr("tenant=")));
  EXPECT_THAT(lines[1], HasSubstr("message="));
  EXPECT_THAT(lines[2], HasSubstr("call rpc=StreamPredict code=OK"));
  EXPECT_THAT(lines[2], HasSubstr(" tenant=acme "));
  EXPECT_THAT(lines[2], HasSubstr(" frames=3"));
  int logged = 0;
  for (const std::string& line : lines) {
    logged += absl::StrContains(line, "rpc=GetProfile code=NOT_FOUND") ? 1 : 0;
  }
  // The last two lines: the count of the dropped ones, then the last call.
  const std::string& dropped = lines[lines.size() - 2];
  ASSERT_THAT(dropped, HasSubstr("call log: ")) << server.Log();
  EXPECT_THAT(dropped, HasSubstr("lines dropped (more than 2 per second)"));
  EXPECT_EQ(logged + std::atoi(dropped.c_str() + std::string("call log: ").size()), 6)
      << server.Log();
  EXPECT_GE(logged, 2);
  EXPECT_LE(logged, 3);  // a third if the calls took over a quarter second
  EXPECT_THAT(lines.back(), HasSubstr("call rpc=GetModelInfo code=OK"));
  EXPECT_TRUE(server.running());
}

TEST(CallLogE2eTest, BadCallLogFlagsStopTheStartUp) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--call_log=verbose", "--call_log must be errors, all or none"},
      {"--call_log_rate=-1", "--call_log_rate must not be negative"}};
  for (const auto& [flag, message] : cases) {
    testing::FerserveProcess server({flag});
    EXPECT_FALSE(server.ok());
    EXPECT_EQ(WEXITSTATUS(server.WaitExit(std::chrono::seconds(60))), 2) << server.Log();
    EXPECT_THAT(server.Log(), HasSubstr(message));
  }
}

}  // namespace
}  // namespace fer
