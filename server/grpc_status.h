#ifndef FERSERVE_SERVER_GRPC_STATUS_H_
#define FERSERVE_SERVER_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace fer {

// The library speaks absl::Status; the edge speaks gRPC. The canonical codes
// share their numeric values.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// "OK", "INVALID_ARGUMENT", ... as Prometheus label values.
inline std::string GrpcCodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace fer

#endif  // FERSERVE_SERVER_GRPC_STATUS_H_
