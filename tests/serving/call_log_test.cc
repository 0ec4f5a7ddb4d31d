#include "lib/serving/call_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fer {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A CallLog on a clock the test moves, keeping the lines it writes.
struct Harness {
  explicit Harness(CallLogMode mode, double max_lines_per_second = 0)
      : log(
            mode, max_lines_per_second,
            [this](absl::string_view line) { lines.emplace_back(line); }, [this] { return now; }) {}

  absl::Time now = absl::FromUnixSeconds(1'000'000);
  std::vector<std::string> lines;
  CallLog log;
};

FinishedCall Call(absl::StatusCode code, absl::string_view message = "") {
  FinishedCall call;
  call.rpc = "GetProfile";
  call.code = code;
  call.message = message;
  call.duration = absl::Microseconds(2340);
  return call;
}

TEST(CallLogTest, FormatsAStreamAsLogfmt) {
  FinishedCall call = Call(absl::StatusCode::kInternal, "frame 39: the backbone failed: boom");
  call.rpc = "StreamPredict";
  call.duration = absl::Milliseconds(1500);
  call.tenant = "acme";
  call.peer = "ipv4:10.0.0.7:51234";
  call.frames = 40;
  EXPECT_EQ(CallLog::Format(call),
            "call rpc=StreamPredict code=INTERNAL duration_ms=1500.0 tenant=acme "
            "peer=ipv4:10.0.0.7:51234 frames=40 message=\"frame 39: the backbone failed: boom\"");
}

TEST(CallLogTest, LeavesOutWhatAUnaryUnauthenticatedCallLacks) {
  EXPECT_EQ(CallLog::Format(Call(absl::StatusCode::kOk)),
            "call rpc=GetProfile code=OK duration_ms=2.3");
}

TEST(CallLogTest, ClientBytesCannotEndTheLineOrForgeAField) {
  const std::string hostile = "x\" code=OK\nfake line\r\t\\ \x01\xff";
  const std::string line = CallLog::Format(Call(absl::StatusCode::kInvalidArgument, hostile));
  EXPECT_EQ(line,
            "call rpc=GetProfile code=INVALID_ARGUMENT duration_ms=2.3 "
            "message=\"x\\\" code=OK\\nfake line\\r\\t\\\\ \\x01\\xff\"");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  // A value holding '=' or nothing at all is quoted too.
  FinishedCall call = Call(absl::StatusCode::kUnauthenticated);
  call.tenant = "a=b";
  call.peer = "";
  EXPECT_EQ(CallLog::Format(call),
            "call rpc=GetProfile code=UNAUTHENTICATED duration_ms=2.3 tenant=\"a=b\"");
}

TEST(CallLogTest, ErrorsModeLogsWhatAnOperatorActsOn) {
  for (const absl::StatusCode code :
       {absl::StatusCode::kUnknown, absl::StatusCode::kDeadlineExceeded,
        absl::StatusCode::kPermissionDenied, absl::StatusCode::kResourceExhausted,
        absl::StatusCode::kUnimplemented, absl::StatusCode::kInternal,
        absl::StatusCode::kUnavailable, absl::StatusCode::kDataLoss,
        absl::StatusCode::kUnauthenticated}) {
    EXPECT_TRUE(IsOperatorError(code)) << absl::StatusCodeToString(code);
  }
  for (const absl::StatusCode code :
       {absl::StatusCode::kOk, absl::StatusCode::kCancelled, absl::StatusCode::kInvalidArgument,
        absl::StatusCode::kNotFound, absl::StatusCode::kAlreadyExists,
        absl::StatusCode::kFailedPrecondition, absl::StatusCode::kAborted,
        absl::StatusCode::kOutOfRange}) {
    EXPECT_FALSE(IsOperatorError(code)) << absl::StatusCodeToString(code);
  }
  Harness errors(CallLogMode::kErrors);
  errors.log.Record(Call(absl::StatusCode::kOk));
  errors.log.Record(Call(absl::StatusCode::kNotFound, "no profile"));
  errors.log.Record(Call(absl::StatusCode::kUnavailable, "store down"));
  EXPECT_THAT(errors.lines, ElementsAre("call rpc=GetProfile code=UNAVAILABLE duration_ms=2.3 "
                                        "message=\"store down\""));
}

TEST(CallLogTest, AllModeLogsEveryCallAndNoneNothing) {
  Harness all(CallLogMode::kAll);
  Harness none(CallLogMode::kNone);
  for (Harness* h : {&all, &none}) {
    h->log.Record(Call(absl::StatusCode::kOk));
    h->log.Record(Call(absl::StatusCode::kNotFound));
    h->log.Record(Call(absl::StatusCode::kInternal));
  }
  EXPECT_EQ(all.lines.size(), 3u);
  EXPECT_THAT(none.lines, IsEmpty());
}

TEST(CallLogTest, DropsLinesBeyondTheRateAndSaysHowMany) {
  Harness h(CallLogMode::kAll, /*max_lines_per_second=*/2);
  for (int i = 0; i < 5; ++i) h.log.Record(Call(absl::StatusCode::kOk));
  EXPECT_EQ(h.lines.size(), 2u);  // a burst of one second's worth
  h.now += absl::Milliseconds(400);
  h.log.Record(Call(absl::StatusCode::kOk));
  EXPECT_EQ(h.lines.size(), 2u);  // 0.8 of a line refilled
  h.now += absl::Milliseconds(100);
  h.log.Record(Call(absl::StatusCode::kInternal));
  ASSERT_EQ(h.lines.size(), 4u);
  EXPECT_EQ(h.lines[2], "call log: 4 lines dropped (more than 2 per second)");
  EXPECT_EQ(h.lines[3], "call rpc=GetProfile code=INTERNAL duration_ms=2.3");
  // After a long quiet spell the bucket holds one second's worth, no more.
  h.now += absl::Hours(1);
  for (int i = 0; i < 3; ++i) h.log.Record(Call(absl::StatusCode::kOk));
  EXPECT_EQ(h.lines.size(), 6u);
}

TEST(CallLogTest, AClockGoingBackDoesNotBlockTheLog) {
  Harness h(CallLogMode::kAll, /*max_lines_per_second=*/1);
  h.log.Record(Call(absl::StatusCode::kOk));
  h.now -= absl::Hours(1);
  h.log.Record(Call(absl::StatusCode::kOk));  // dropped: no time has passed
  h.now += absl::Seconds(1);                  // one second after the step back: one line's worth
  h.log.Record(Call(absl::StatusCode::kOk));
  EXPECT_EQ(h.lines.size(), 3u);  // the drop notice and two calls
}

TEST(CallLogTest, ParsesItsModes) {
  EXPECT_EQ(*ParseCallLogMode("none"), CallLogMode::kNone);
  EXPECT_EQ(*ParseCallLogMode("errors"), CallLogMode::kErrors);
  EXPECT_EQ(*ParseCallLogMode("all"), CallLogMode::kAll);
  EXPECT_FALSE(ParseCallLogMode("verbose").ok());
  EXPECT_FALSE(ParseCallLogMode("").ok());
}

}  // namespace
}  // namespace fer
