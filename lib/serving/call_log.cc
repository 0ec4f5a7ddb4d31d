#include "lib/serving/call_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fer {
namespace {

// A logfmt value: bare when it is plain, otherwise quoted with \" \\ \n \r
// \t and \xNN escapes for every byte outside printable ASCII (so that no
// client bytes can end the line or forge a field).
std::string Value(absl::string_view text) {
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > ' ' && u < 0x7f && c != '"' && c != '=' && c != '\\';
  });
  if (plain) return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < ' ' || u >= 0x7f) {
          absl::StrAppendFormat(&out, "\\x%02x", u);
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace

absl::StatusOr<CallLogMode> ParseCallLogMode(absl::string_view text) {
  if (text == "none") return CallLogMode::kNone;
  if (text == "errors") return CallLogMode::kErrors;
  if (text == "all") return CallLogMode::kAll;
  return absl::InvalidArgumentError(
      absl::StrCat("call log mode '", absl::CHexEscape(text), "': use none, errors or all"));
}

bool IsOperatorError(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kOutOfRange:
      return false;
    default:
      return true;
  }
}

CallLog::CallLog(CallLogMode mode, double max_lines_per_second, Sink sink, Clock clock)
    : mode_(mode),
      max_lines_per_second_(max_lines_per_second),
      sink_(std::move(sink)),
      clock_(std::move(clock)),
      tokens_(std::max(1.0, max_lines_per_second)),
      refilled_(clock_()) {}

std::string CallLog::Format(const FinishedCall& call) {
  std::string line = absl::StrCat(
      "call rpc=", Value(call.rpc), " code=", Value(absl::StatusCodeToString(call.code)),
      absl::StrFormat(" duration_ms=%.1f", absl::ToDoubleMilliseconds(call.duration)));
  if (!call.tenant.empty()) absl::StrAppend(&line, " tenant=", Value(call.tenant));
  if (!call.peer.empty()) absl::StrAppend(&line, " peer=", Value(call.peer));
  if (call.frames >= 0) absl::StrAppend(&line, " frames=", call.frames);
  if (!call.message.empty()) absl::StrAppend(&line, " message=", Value(call.message));
  return line;
}

bool CallLog::Wanted(absl::StatusCode code) const {
  switch (mode_) {
    case CallLogMode::kNone:
      return false;
    case CallLogMode::kErrors:
      return IsOperatorError(code);
    case CallLogMode::kAll:
      return true;
  }
  return false;
}

void CallLog::Record(const FinishedCall& call) {
  if (!Wanted(call.code)) return;
  absl::MutexLock lock(&mu_);
  if (max_lines_per_second_ > 0) {
    // A token bucket: one second's worth of lines, refilled continuously.
    const absl::Time now = clock_();
    const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - refilled_));
    tokens_ =
        std::min(std::max(1.0, max_lines_per_second_), tokens_ + elapsed * max_lines_per_second_);
    refilled_ = now;
    if (tokens_ < 1) {
      ++dropped_;
      return;
    }
    tokens_ -= 1;
  }
  if (dropped_ > 0) {
    sink_(absl::StrFormat("call log: %d lines dropped (more than %g per second)", dropped_,
                          max_lines_per_second_));
    dropped_ = 0;
  }
  sink_(Format(call));
}

}  // namespace fer
