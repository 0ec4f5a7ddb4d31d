#ifndef FERSERVE_TESTS_E2E_FERSERVE_PROCESS_H_
#define FERSERVE_TESTS_E2E_FERSERVE_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/child_process.h"
#include "tests/poll_until.h"
#include "tests/process_temp_dir.h"

namespace fer::testing {

// The real ferserve binary, started on loopback ports for one test and
// stopped (SIGKILL if it does not exit) when destroyed.
class FerserveProcess {
 public:
  // Starts ferserve with `extra_flags` and waits until its health service
  // says SERVING (models loaded). Check ok() afterwards. Without a --store
  // flag the profiles go to a fresh RocksDB under the test's temp folder.
  // `credentials` are the channel's (plaintext when null; TLS servers need
  // them, with the target name "localhost").
  explicit FerserveProcess(std::vector<std::string> extra_flags = {},
                           std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr)
      : process_(Start(std::move(extra_flags))) {
    // Loading the models and warming them up takes seconds, more under the
    // sanitizers; both waits share one bound.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    const auto time_left = [&until] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
    };
    process_.WaitUntil([this] { return ReadListeningPorts(); }, time_left(),
                       std::chrono::milliseconds(50));
    // A server that never printed its ports still gets a channel (to port
    // 0), so that a test's calls fail instead of crashing. A short reconnect
    // backoff lets the channel see a restarted or slow server within half a
    // second instead of gRPC's default 1 s, 1.6 s, 2.6 s... schedule. (Not
    // the minimum backoff: gRPC also uses that as the connect timeout.)
    grpc::ChannelArguments channel_args;
    channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    if (credentials == nullptr) {
      credentials = grpc::InsecureChannelCredentials();
    } else {
      channel_args.SetSslTargetNameOverride("localhost");
    }
    channel_ =
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port_), credentials, channel_args);
    if (port_ > 0) {
      ready_ = process_.WaitUntil(
          [this] { return Health("") == grpc::health::v1::HealthCheckResponse::SERVING; },
          time_left());
    }
  }

  bool ok() const { return ready_; }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return process_.pid(); }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }

  // The server's stdout and stderr so far.
  std::string Log() const { return process_.Log(); }

  // The log once it holds `text` (a line the server writes after a client
  // may already have its answer, such as a call's log line), or as it is
  // after `timeout`.
  std::string LogOnceItHas(const std::string& text,
                           std::chrono::seconds timeout = std::chrono::seconds(10)) const {
    std::string log;
    PollUntil([&] { return (log = Log()).find(text) != std::string::npos; }, timeout);
    return log;
  }

  bool running() { return process_.running(); }

  // Waits up to `timeout` for the process to exit; its wait status, or -1.
  int WaitExit(std::chrono::seconds timeout) { return process_.WaitExit(timeout); }

  grpc::health::v1::HealthCheckResponse::ServingStatus Health(const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(channel_);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    if (!stub->Check(&context, request, &response).ok()) {
      return grpc::health::v1::HealthCheckResponse::UNKNOWN;
    }
    return response.status();
  }

 private:
  // Starts the binary with `extra_flags` and a store and log of its own.
  static ChildProcess Start(std::vector<std::string> extra_flags) {
    // The server picks its own free ports (--port=0, --metrics_port=0) and
    // prints them: no window in which another process could take a port
    // chosen here, which parallel test binaries and their outgoing
    // connections otherwise do now and then.
    static std::atomic<int> instances{0};
    const std::string id = std::to_string(instances++);
    std::vector<std::string> args = {std::string(FERSERVE_BINARY_DIR) + "/server/ferserve",
                                     "--host=127.0.0.1", "--port=0", "--metrics_port=0",
                                     "--threads=2"};
    const bool has_store =
        std::any_of(extra_flags.begin(), extra_flags.end(),
                    [](const std::string& f) { return f.rfind("--store=", 0) == 0; });
    if (!has_store) {
      args.push_back("--store=rocksdb://" + ProcessTempDir() + "ferserve_store_" + id);
    }
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    // What the server keeps in temporary files stays in the test's folder
    // (it is killed, with no chance to remove them).
    return ChildProcess(std::move(args),
                        ProcessOutput{ProcessTempDir() + "ferserve_" + id + ".log"},
                        std::vector<std::string>{"TMPDIR=" + ProcessTempDir()});
  }

  // Parses the ports from ferserve's start-up line "... listening on
  // 127.0.0.1:PORT (gRPC) and :PORT (metrics) ..."; false until it is there.
  bool ReadListeningPorts() {
    const std::string log = Log();
    const std::string grpc_marker = "listening on 127.0.0.1:";
    const std::string metrics_marker = " (gRPC) and :";
    const size_t grpc_at = log.find(grpc_marker);
    if (grpc_at == std::string::npos) return false;
    const size_t metrics_at = log.find(metrics_marker, grpc_at);
    if (metrics_at == std::string::npos) return false;
    port_ = std::atoi(log.c_str() + grpc_at + grpc_marker.size());
    metrics_port_ = std::atoi(log.c_str() + metrics_at + metrics_marker.size());
    return port_ > 0;
  }

  ChildProcess process_;
  int port_ = 0;
  int metrics_port_ = 0;
  bool ready_ = false;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_E2E_FERSERVE_PROCESS_H_
