#ifndef FERSERVE_TESTS_STORE_REDIS_SERVER_H_
#define FERSERVE_TESTS_STORE_REDIS_SERVER_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "lib/store/redis_connection.h"
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
  ~RedisServer() { Stop(); }
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
    pid_ = fork();
    if (pid_ == 0) {
      const std::string log =
          std::string(::testing::TempDir()) + "redis_" + std::to_string(port_) + ".log";
      FILE* f = std::fopen(log.c_str(), "a");
      if (f != nullptr) {
        dup2(fileno(f), STDOUT_FILENO);
        dup2(fileno(f), STDERR_FILENO);
      }
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    ready_ = false;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until && running()) {
      if (Ping()) {
        ready_ = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Kills redis-server (SIGKILL: a crash) and reaps it.
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    ready_ = false;
  }

  bool running() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
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
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_STORE_REDIS_SERVER_H_
