#include "lib/metrics/metrics_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace fer {
namespace {

// Waits until `fd` is ready for `events`; false once `deadline` passes or
// the peer is gone.
bool WaitReady(int fd, short events, absl::Time deadline) {
  while (true) {
    const int64_t ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (ms <= 0) return false;
    pollfd p{fd, events, 0};
    const int ready =
        poll(&p, 1, static_cast<int>(std::min<int64_t>(ms, std::numeric_limits<int>::max())));
    if (ready < 0 && errno != EINTR) return false;
    if (ready > 0) return (p.revents & events) != 0;
  }
}

void SendAll(int fd, absl::string_view data, absl::Time deadline) {
  while (!data.empty()) {
    const ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR) || !WaitReady(fd, POLLOUT, deadline)) {
      return;
    }
  }
}

// A HEAD request gets the head a GET would, without the body.
void Respond(int fd, absl::Time deadline, bool head_only, const char* status, const char* type,
             absl::string_view body) {
  SendAll(fd,
          absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", type,
                       "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n"),
          deadline);
  if (!head_only) SendAll(fd, body, deadline);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& host, int port, std::function<std::string()> render,
    absl::Duration connection_timeout) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics host '", host, "' is not an IP address literal"));
  }
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics port ", port, " is out of range"));
  }
  // Non-blocking, so that a worker that loses the race for a connection
  // another worker accepted goes back to waiting instead of blocking.
  const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 16) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot listen for metrics on ", host, ":", port, ": ", error));
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int bound = ntohs(addr.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  return std::unique_ptr<MetricsEndpoint>(
      new MetricsEndpoint(fd, bound, std::move(render), connection_timeout));
}

MetricsEndpoint::MetricsEndpoint(int fd, int port, std::function<std::string()> render,
                                 absl::Duration connection_timeout)
    : fd_(fd), port_(port), render_(std::move(render)), connection_timeout_(connection_timeout) {
  for (int i = 0; i < kConnectionWorkers; ++i) workers_.emplace_back([this] { Serve(); });
}

MetricsEndpoint::~MetricsEndpoint() {
  stop_ = true;
  shutdown(fd_, SHUT_RDWR);
  for (std::thread& worker : workers_) worker.join();
  close(fd_);
}

void MetricsEndpoint::Serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) continue;
    Handle(client, absl::Now() + connection_timeout_);
    close(client);
  }
}

void MetricsEndpoint::Handle(int client, absl::Time deadline) {
  // Read the request head (bounded in size and time); only the request line
  // matters.
  std::string head;
  char buffer[2048];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 16384) {
    const ssize_t n = recv(client, buffer, sizeof(buffer), 0);
    if (n > 0) {
      head.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      break;
    } else if (!WaitReady(client, POLLIN, deadline)) {
      return;  // too slow: closed unanswered
    }
  }
  const absl::string_view line = absl::string_view(head).substr(0, head.find("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp1 == absl::string_view::npos || sp2 == absl::string_view::npos) {
    Respond(client, deadline, false, "400 Bad Request", "text/plain", "bad request\n");
    return;
  }
  const absl::string_view method = line.substr(0, sp1);
  absl::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    Respond(client, deadline, false, "405 Method Not Allowed", "text/plain", "only GET\n");
  } else if (path == "/metrics") {
    Respond(client, deadline, head_only, "200 OK", "text/plain; version=0.0.4; charset=utf-8",
            render_());
  } else if (path == "/") {
    Respond(client, deadline, head_only, "200 OK", "text/plain", "ferserve: metrics at /metrics\n");
  } else {
    Respond(client, deadline, head_only, "404 Not Found", "text/plain", "not found\n");
  }
}

}  // namespace fer
