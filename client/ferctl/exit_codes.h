#ifndef FERSERVE_CLIENT_FERCTL_EXIT_CODES_H_
#define FERSERVE_CLIENT_FERCTL_EXIT_CODES_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"

namespace ferctl {

// ferctl's exit statuses, one per kind of failure, so that scripts can tell
// them apart. Listed by `ferctl --help` and in the README.
enum ExitCode : int {
  kOk = 0,
  kServerError = 1,       // any other gRPC error (INTERNAL, UNIMPLEMENTED, ...)
  kUsage = 2,             // bad command line
  kInputError = 3,        // a file, folder or camera cannot be read or written
  kUnreachable = 4,       // UNAVAILABLE: no server at --address, or it is draining
  kDeadlineExceeded = 5,  // DEADLINE_EXCEEDED: --deadline passed
  kNotFound = 6,          // NOT_FOUND: unknown user
  kRejected = 7,          // INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE, RESOURCE_EXHAUSTED
  kUnauthenticated = 8,   // UNAUTHENTICATED or PERMISSION_DENIED
  kNotServing = 9,        // health: the server answers but is not SERVING
  kNothingAccepted = 10,  // enroll: the server accepted none of the frames
};

// The help text's table of exit statuses.
const char* ExitCodeTable();

// The exit status for a failed call.
ExitCode ExitCodeFor(grpc::StatusCode code);

// Prints "ferctl: <message>" as one line on stderr and returns `code`.
int Fail(ExitCode code, const std::string& message);

// Prints why a frame source or output could not be opened: kUsage for a bad
// flag (InvalidArgument), else kInputError.
int FailOpen(const std::string& command, const absl::Status& status);

// Prints a failed call as one line ("ferctl: <what>: <CODE>: <message>", with
// a hint for the common cases) and returns its exit status.
int FailCall(const std::string& what, const grpc::Status& status, const std::string& address);

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_EXIT_CODES_H_
