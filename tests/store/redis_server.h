#ifndef FERSERVE_TESTS_STORE_REDIS_SERVER_H_
#define FERSERVE_TESTS_STORE_REDIS_SERVER_H_

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "lib/store/redis_connection.h"
#include "tests/child_process.h"
#include "tests/free_port.h"

namespace fer::testing {

// A real redis-server on a loopback port, without persistence, for one test.
// Stop() and Start() again reuse the same port (a restart). Killed when
// destroyed.
class RedisServer {
 public:
  // `extra_args` are appended to the command line (e.g. TLS settings).
  explicit RedisServer(std::vector<std::string> extra_args = {})
      : port_(FreePort()), extra_args_(std::move(extra_args)) {
    Start();
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  bool ok() const { return ready_; }

  // Starts redis-server and waits up to 10 s for it to answer PING on its
  // plain port; ok() says whether it did.
  void Start() {
    std::vector<std::string> args = {
        "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no",     "--protected-mode",    "no"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    // One log across restarts.
    ProcessOutput log;
    log.stdout_path = std::string(::testing::TempDir()) + "redis_" + std::to_string(port_) + ".log";
    log.append = true;
    process_.emplace(std::move(args), log);
    ready_ = process_->WaitUntil([this] { return Ping(); }, std::chrono::seconds(10),
                                 std::chrono::milliseconds(20));
  }

  // Kills redis-server (SIGKILL: a crash) and reaps it.
  void Stop() {
    process_.reset();
    ready_ = false;
  }

  // Whether the server answers PING on its plain port (with any reply).
  bool Ping() const {
    RedisEndpoint endpoint;
    endpoint.port = port_;
    endpoint.connect_timeout = absl::Milliseconds(200);
    endpoint.command_timeout = absl::Milliseconds(500);
    auto c = RedisConnection::Connect(endpoint);
    if (absl::IsPermissionDenied(c.status())) return true;  // Up, wants a password.
    if (!c.ok()) return false;
    auto reply = (*c)->Command({"PING"});
    return reply.ok();  // PONG, or NOAUTH when a password is required.
  }

 private:
  const int port_;
  const std::vector<std::string> extra_args_;
  std::optional<ChildProcess> process_;
  bool ready_ = false;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_STORE_REDIS_SERVER_H_
