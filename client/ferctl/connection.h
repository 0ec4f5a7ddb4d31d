#ifndef FERSERVE_CLIENT_FERCTL_CONNECTION_H_
#define FERSERVE_CLIENT_FERCTL_CONNECTION_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fer/v1/expression_service.grpc.pb.h"

namespace ferctl {

// How to reach ferserve, from the global flags --address, --tls, --tls_ca,
// --tls_cert, --tls_key, --tls_server_name, --token and --deadline.
class Connection {
 public:
  // InvalidArgument for a TLS file that cannot be read.
  static absl::StatusOr<Connection> FromFlags();

  const std::string& address() const { return address_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<fer::v1::ExpressionService::Stub> NewStub() const;

  // A context carrying the bearer token (if any) and a deadline: --deadline
  // when set, else `default_deadline_s` seconds (0: none).
  std::unique_ptr<grpc::ClientContext> NewContext(double default_deadline_s) const;

 private:
  std::string address_;
  std::string token_;
  double deadline_s_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
};

// Default deadlines: unary calls are quick; streams last as long as the input.
inline constexpr double kUnaryDeadlineSeconds = 10;
inline constexpr double kNoDeadline = 0;

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_CONNECTION_H_
