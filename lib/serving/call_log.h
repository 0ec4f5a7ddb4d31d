#ifndef FERSERVE_LIB_SERVING_CALL_LOG_H_
#define FERSERVE_LIB_SERVING_CALL_LOG_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fer {

// Which finished calls get a log line.
enum class CallLogMode {
  kNone,
  // Calls that failed for a reason the operator may have to act on: every
  // code but OK, CANCELLED (the client gave up) and the answers about the
  // request itself (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
  // FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE).
  kErrors,
  kAll,
};

// "none", "errors" or "all".
absl::StatusOr<CallLogMode> ParseCallLogMode(absl::string_view text);

// Whether kErrors logs a call that ended with `code`.
bool IsOperatorError(absl::StatusCode code);

// One finished RPC.
struct FinishedCall {
  absl::string_view rpc;  // "StreamPredict", ...
  absl::StatusCode code = absl::StatusCode::kOk;
  absl::string_view message;
  absl::Duration duration;
  absl::string_view tenant;  // empty when the caller was not authenticated
  absl::string_view peer;    // gRPC's peer string, e.g. "ipv4:10.0.0.7:51234"
  int64_t frames = -1;       // frames read by a stream; -1 for unary calls
};

// The call log: one logfmt line per finished call, as
//   call rpc=StreamPredict code=INTERNAL duration_ms=12.3 tenant=acme
//   peer=ipv4:10.0.0.7:51234 frames=40 message="frame 39: ..."
// (on one line), which log pipelines (Loki's logfmt, Vector, Fluent Bit)
// split into fields. Values are quoted where needed and control characters
// escaped, so a message that carries a client's bytes cannot forge a line.
// At most `max_lines_per_second` lines (0: no limit; bursts up to one
// second's worth): beyond, lines are dropped and counted, and the next line
// written is preceded by "call log: N lines dropped ...". Thread-safe.
class CallLog {
 public:
  using Sink = std::function<void(absl::string_view line)>;
  using Clock = std::function<absl::Time()>;

  CallLog(CallLogMode mode, double max_lines_per_second, Sink sink, Clock clock = absl::Now);

  void Record(const FinishedCall& call) ABSL_LOCKS_EXCLUDED(mu_);

  // The line Record writes for `call`.
  static std::string Format(const FinishedCall& call);

 private:
  bool Wanted(absl::StatusCode code) const;

  const CallLogMode mode_;
  const double max_lines_per_second_;
  const Sink sink_;
  const Clock clock_;

  absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time refilled_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_CALL_LOG_H_
