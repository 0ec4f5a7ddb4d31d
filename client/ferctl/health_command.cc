// ferctl health: the standard gRPC health check, overall and for the
// expression service.
#include <cstdio>

#include "absl/flags/flag.h"
#include "client/ferctl/commands.h"
#include "client/ferctl/exit_codes.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, service, "",
          "health: the service to check; empty checks the server and fer.v1.ExpressionService.");

namespace ferctl {
namespace {

using grpc::health::v1::HealthCheckResponse;

}  // namespace

int RunHealth(const Connection& connection, const Args&) {
  auto stub = grpc::health::v1::Health::NewStub(connection.channel());
  std::vector<std::string> services = {absl::GetFlag(FLAGS_service)};
  if (services[0].empty()) services.push_back("fer.v1.ExpressionService");
  bool serving = true;
  for (const std::string& service : services) {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    auto context = connection.NewContext(kUnaryDeadlineSeconds);
    const grpc::Status status = stub->Check(context.get(), request, &response);
    if (!status.ok()) return FailCall("health", status, connection.address());
    const std::string name = HealthCheckResponse::ServingStatus_Name(response.status());
    std::printf("%-26s %s\n", service.empty() ? "(server)" : service.c_str(), name.c_str());
    serving = serving && response.status() == HealthCheckResponse::SERVING;
  }
  if (!serving) return Fail(kNotServing, "ferserve at " + connection.address() + " is not SERVING");
  return kOk;
}

}  // namespace ferctl
