// fer-health-probe: asks a gRPC server's standard health service
// (grpc.health.v1.Health/Check) whether it is SERVING, like grpc_health_probe.
// Meant for container health checks, where only the exit code is read:
//
//   fer-health-probe --addr=127.0.0.1:50051 [--service=fer.v1.ExpressionService]
//
// Exit codes: 0 SERVING, 1 the server answered something else (NOT_SERVING
// while it drains, UNKNOWN, SERVICE_UNKNOWN), 2 the call failed (no server,
// timeout, refused), 3 bad usage.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:50051", "host:port of the gRPC server.");
ABSL_FLAG(std::string, service, "",
          "Service whose health to ask; empty for the server as a whole.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(2), "Deadline of the whole check.");
ABSL_FLAG(bool, quiet, false, "Print nothing; only the exit code tells.");

namespace {

using grpc::health::v1::HealthCheckResponse;

constexpr int kServing = 0;
constexpr int kNotServing = 1;
constexpr int kCallFailed = 2;
constexpr int kUsage = 3;

int Probe(const std::string& addr, const std::string& service, absl::Duration timeout, bool quiet) {
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    if (!quiet) {
      std::fprintf(stderr, "health check of %s failed: %s (code %d)\n", addr.c_str(),
                   status.error_message().c_str(), static_cast<int>(status.error_code()));
    }
    return kCallFailed;
  }
  const std::string name = HealthCheckResponse::ServingStatus_Name(response.status());
  if (!quiet) std::printf("%s\n", name.c_str());
  return response.status() == HealthCheckResponse::SERVING ? kServing : kNotServing;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Exits 0 when the gRPC server at --addr reports SERVING through grpc.health.v1.");
  const auto rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1 || absl::GetFlag(FLAGS_timeout) <= absl::ZeroDuration()) {
    std::fprintf(stderr, "usage: fer-health-probe --addr=HOST:PORT [--service=NAME]\n");
    return kUsage;
  }
  return Probe(absl::GetFlag(FLAGS_addr), absl::GetFlag(FLAGS_service),
               absl::GetFlag(FLAGS_timeout), absl::GetFlag(FLAGS_quiet));
}
