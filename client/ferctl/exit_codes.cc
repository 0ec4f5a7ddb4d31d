#include "client/ferctl/exit_codes.h"

#include <cstdio>

#include "absl/strings/str_replace.h"
#include "proto/grpc_code_name.h"

namespace ferctl {

const char* ExitCodeTable() {
  return "exit status:\n"
         "   0  success\n"
         "   1  other server error (INTERNAL, UNIMPLEMENTED, ...)\n"
         "   2  bad command line\n"
         "   3  a file, folder or camera cannot be read or written\n"
         "   4  server unreachable or draining (UNAVAILABLE)\n"
         "   5  --deadline passed (DEADLINE_EXCEEDED)\n"
         "   6  unknown user (NOT_FOUND)\n"
         "   7  request refused (INVALID_ARGUMENT, FAILED_PRECONDITION, RESOURCE_EXHAUSTED)\n"
         "   8  credentials refused (UNAUTHENTICATED, PERMISSION_DENIED)\n"
         "   9  health: server not SERVING\n"
         "  10  enroll: no frame accepted\n";
}

ExitCode ExitCodeFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kOk;
    case grpc::StatusCode::UNAVAILABLE:
      return kUnreachable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kDeadlineExceeded;
    case grpc::StatusCode::NOT_FOUND:
      return kNotFound;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return kRejected;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return kUnauthenticated;
    default:
      return kServerError;
  }
}

int Fail(ExitCode code, const std::string& message) {
  const std::string line = absl::StrReplaceAll(message, {{"\n", " "}, {"\r", " "}});
  std::fprintf(stderr, "ferctl: %s\n", line.c_str());
  return code;
}

int FailOpen(const std::string& command, const absl::Status& status) {
  return Fail(absl::IsInvalidArgument(status) ? kUsage : kInputError,
              command + ": " + std::string(status.message()));
}

int FailCall(const std::string& what, const grpc::Status& status, const std::string& address) {
  std::string message =
      what + ": " + fer::GrpcCodeName(status.error_code()) + ": " + status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = "cannot reach ferserve at " + address + " (" + message + ")";
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message += " (raise --deadline)";
  }
  return Fail(ExitCodeFor(status.error_code()), message);
}

}  // namespace ferctl
