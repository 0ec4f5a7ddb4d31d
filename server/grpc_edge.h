#ifndef FERSERVE_SERVER_GRPC_EDGE_H_
#define FERSERVE_SERVER_GRPC_EDGE_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

// The call's deadline; InfiniteFuture when the client set none.
inline absl::Time CallDeadline(const grpc::ServerContext& context) {
  return context.deadline() == std::chrono::system_clock::time_point::max()
             ? absl::InfiniteFuture()
             : absl::FromChrono(context.deadline());
}

// Why a streaming call's reads ended, when not because the client
// half-closed: gRPC cancelled the call under the handler (the client
// cancelled, its deadline passed, or it sent a message over the size limit,
// which gRPC answered RESOURCE_EXHAUSTED itself). The client has had gRPC's
// answer then; this one keeps the handler from acting on a call that failed
// (an enrollment the client will send again) and the metrics and call log
// from counting it as a success. OK when the client half-closed. gRPC marks
// a call cancelled by the client (or its deadline) before the read ends; an
// oversize message only usually so.
inline grpc::Status CutShortStatus(const grpc::ServerContext& context) {
  if (!context.IsCancelled()) return grpc::Status::OK;
  // The client's timer cancels the call at its deadline, shortly before the
  // server's copy of it (counted from when the call's headers arrived).
  if (absl::Now() + absl::Milliseconds(100) >= CallDeadline(context)) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "the call reached its deadline while its messages were read");
  }
  return grpc::Status(grpc::StatusCode::CANCELLED,
                      "cancelled while the call's messages were read: by the client, or by gRPC "
                      "for a message over --max_message_bytes");
}

}  // namespace fer

#endif  // FERSERVE_SERVER_GRPC_EDGE_H_
