#ifndef FERSERVE_LIB_METRICS_METRICS_ENDPOINT_H_
#define FERSERVE_LIB_METRICS_METRICS_ENDPOINT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fer {

// A minimal HTTP/1.1 server for Prometheus scrapes: GET /metrics answers
// with the text that `render` returns (exposition format 0.0.4), GET /
// with a pointer to /metrics, HEAD as GET without the body, anything else
// 404/405. Up to kConnectionWorkers connections are served at once (so a
// slow client does not hold up another scraper), each closed once it has
// taken `connection_timeout` in all (a client sending or reading its bytes
// slowly cannot hold a worker longer); `render` may be called concurrently.
// Runs until destroyed.
// (prometheus-cpp's civetweb exposer cannot start in a process that also
// loads Debian's LibTorch, hence this.)
class MetricsEndpoint {
 public:
  static constexpr int kConnectionWorkers = 4;

  // `host` is an IPv4/IPv6 literal or "0.0.0.0"/"::"; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& host, int port, std::function<std::string()> render,
      absl::Duration connection_timeout = absl::Seconds(5));
  ~MetricsEndpoint();

  int port() const { return port_; }

 private:
  MetricsEndpoint(int fd, int port, std::function<std::string()> render,
                  absl::Duration connection_timeout);
  void Serve();
  void Handle(int client, absl::Time deadline);

  int fd_;
  int port_;
  std::function<std::string()> render_;
  absl::Duration connection_timeout_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_METRICS_METRICS_ENDPOINT_H_
