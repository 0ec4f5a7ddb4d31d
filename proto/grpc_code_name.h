#ifndef FERSERVE_PROTO_GRPC_CODE_NAME_H_
#define FERSERVE_PROTO_GRPC_CODE_NAME_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace fer {

// A gRPC status code's canonical name ("OK", "INVALID_ARGUMENT", ...), as
// the server's metric labels and the clients' messages spell it. gRPC's and absl's canonical codes
// share their numeric values; a code outside them (from a peer that is not gRPC's own) is
// "UNKNOWN", as gRPC treats it.
inline std::string GrpcCodeName(grpc::StatusCode code) {
  std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  return name.empty() ? "UNKNOWN" : name;
}

}  // namespace fer

#endif  // FERSERVE_PROTO_GRPC_CODE_NAME_H_
