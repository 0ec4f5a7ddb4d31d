#ifndef FERSERVE_LIB_METRICS_METRICS_ENDPOINT_H_
#define FERSERVE_LIB_METRICS_METRICS_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fer {

// A minimal HTTP/1.1 server for Prometheus scrapes: GET /metrics answers
// with the text that `render` returns (exposition format 0.0.4), GET /
// with a pointer to /metrics, HEAD as GET without the body, anything else
// 404/405. One thread serves up to kMaxConnections connections at once,
// reading and writing whichever is ready, so a client sending its request or
// reading the answer slowly holds up no other scraper; each connection is
// closed once it has taken `connection_timeout` in all. Connections beyond
// kMaxConnections wait in the listen backlog until one closes. Runs until
// destroyed.
// (prometheus-cpp's civetweb exposer cannot start in a process that also
// loads Debian's LibTorch, hence this.)
class MetricsEndpoint {
 public:
  static constexpr int kMaxConnections = 64;

  // `host` is an IPv4/IPv6 literal or "0.0.0.0"/"::"; port 0 picks a free one.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& host, int port, std::function<std::string()> render,
      absl::Duration connection_timeout = absl::Seconds(5));
  ~MetricsEndpoint();

  int port() const { return port_; }

 private:
  struct Connection;

  MetricsEndpoint(int fd, int wake_fd, int port, std::function<std::string()> render,
                  absl::Duration connection_timeout);
  void Serve();
  // Accepts what the backlog holds, up to kMaxConnections open; false on an
  // error other than an empty backlog.
  bool Accept(std::vector<Connection>& connections);
  // Reads what `c` sent; once its request head is complete, the answer.
  // False when the connection is done with.
  bool Read(Connection& c);
  // Sends what the socket takes of the answer; false once all is sent or the
  // peer is gone.
  bool Write(Connection& c);
  std::string Answer(absl::string_view request_head);

  int fd_;
  int wake_fd_;  // an eventfd the destructor writes to, ending Serve()
  int port_;
  std::function<std::string()> render_;
  absl::Duration connection_timeout_;
  std::thread thread_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_METRICS_METRICS_ENDPOINT_H_
