#ifndef FERSERVE_SERVER_GRPC_EDGE_H_
#define FERSERVE_SERVER_GRPC_EDGE_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace fer {

// The library speaks absl (Status, Time); the edge speaks gRPC. The
// canonical status codes share their numeric values.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// A frame's error as its stream's end, naming the frame: "frame 12: ...".
inline grpc::Status FrameError(uint64_t index, const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      absl::StrCat("frame ", index, ": ", status.message()));
}

// "OK", "INVALID_ARGUMENT", ... as Prometheus label values.
inline std::string GrpcCodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// The call's deadline; InfiniteFuture when the client set none.
inline absl::Time CallDeadline(const grpc::ServerContext& context) {
  return context.deadline() == std::chrono::system_clock::time_point::max()
             ? absl::InfiniteFuture()
             : absl::FromChrono(context.deadline());
}

}  // namespace fer

#endif  // FERSERVE_SERVER_GRPC_EDGE_H_
