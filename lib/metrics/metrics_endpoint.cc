#include "lib/metrics/metrics_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace fer {
namespace {

// The whole HTTP answer; a HEAD request gets the head a GET would, without
// the body.
std::string HttpAnswer(bool head_only, const char* status, const char* type,
                       absl::string_view body) {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", type,
                      "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n",
                      head_only ? absl::string_view() : body);
}

// Longest request head read; only its first line matters.
constexpr size_t kMaxRequestHead = 16384;

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
  // Non-blocking: the serving loop accepts until the backlog is empty.
  const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, kMaxConnections) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::UnavailableError(
        absl::StrCat("cannot listen for metrics on ", host, ":", port, ": ", error));
  }
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int bound = ntohs(addr.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::InternalError(absl::StrCat("eventfd: ", error));
  }
  return std::unique_ptr<MetricsEndpoint>(
      new MetricsEndpoint(fd, wake_fd, bound, std::move(render), connection_timeout));
}

struct MetricsEndpoint::Connection {
  int fd = -1;
  absl::Time deadline;
  std::string request;  // the request head so far
  std::string answer;   // once the head is complete
  size_t sent = 0;      // bytes of `answer` sent

  bool answering() const { return !answer.empty(); }
};

MetricsEndpoint::MetricsEndpoint(int fd, int wake_fd, int port, std::function<std::string()> render,
                                 absl::Duration connection_timeout)
    : fd_(fd),
      wake_fd_(wake_fd),
      port_(port),
      render_(std::move(render)),
      connection_timeout_(connection_timeout) {
  thread_ = std::thread([this] { Serve(); });
}

MetricsEndpoint::~MetricsEndpoint() {
  const uint64_t one = 1;
  while (write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  thread_.join();
  close(wake_fd_);
  close(fd_);
}

void MetricsEndpoint::Serve() {
  std::vector<Connection> connections;
  std::vector<pollfd> polled;
  // After an accept error other than an empty backlog (out of file
  // descriptors, say), the listening socket stays readable: wait a little
  // instead of spinning on it.
  absl::Time accept_after = absl::InfinitePast();
  while (true) {
    const absl::Time now = absl::Now();
    const bool accepting =
        connections.size() < static_cast<size_t>(kMaxConnections) && now >= accept_after;
    absl::Duration wait = absl::InfiniteDuration();
    if (now < accept_after) wait = accept_after - now;
    polled.assign(
        {pollfd{wake_fd_, POLLIN, 0}, pollfd{fd_, static_cast<short>(accepting ? POLLIN : 0), 0}});
    for (const Connection& c : connections) {
      wait = std::min(wait, c.deadline - now);
      polled.push_back(pollfd{c.fd, static_cast<short>(c.answering() ? POLLOUT : POLLIN), 0});
    }
    const int timeout_ms =
        wait == absl::InfiniteDuration()
            ? -1
            : static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(
                  std::clamp(wait, absl::ZeroDuration(), absl::Hours(1)), absl::Milliseconds(1))));
    const int ready = poll(polled.data(), polled.size(), timeout_ms);
    if (ready > 0 && polled[0].revents != 0) break;  // the destructor's call
    const absl::Time after = absl::Now();
    size_t kept = 0;
    for (size_t i = 0; i < connections.size(); ++i) {
      Connection& c = connections[i];
      const bool ready_now = ready > 0 && polled[i + 2].revents != 0;
      // A connection out of time is closed, unanswered or cut short.
      const bool open = c.deadline > after && (!ready_now || (c.answering() ? Write(c) : Read(c)));
      if (!open) {
        close(c.fd);
        continue;
      }
      if (kept != i) connections[kept] = std::move(c);
      ++kept;
    }
    connections.resize(kept);
    if (ready > 0 && (polled[1].revents & POLLIN) != 0 && !Accept(connections)) {
      accept_after = after + absl::Milliseconds(100);
    }
  }
  for (const Connection& c : connections) close(c.fd);
}

bool MetricsEndpoint::Accept(std::vector<Connection>& connections) {
  while (connections.size() < static_cast<size_t>(kMaxConnections)) {
    const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    Connection c;
    c.fd = client;
    c.deadline = absl::Now() + connection_timeout_;
    connections.push_back(std::move(c));
  }
  return true;
}

bool MetricsEndpoint::Read(Connection& c) {
  char buffer[4096];
  while (c.request.find("\r\n\r\n") == std::string::npos && c.request.size() < kMaxRequestHead) {
    const ssize_t n = recv(c.fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      c.request.append(buffer, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;  // the rest of the head later
    } else if (n < 0) {
      return false;  // reset
    } else {
      break;  // the client half-closed: answer what it sent
    }
  }
  c.answer = Answer(c.request);
  c.request.clear();
  return Write(c);
}

bool MetricsEndpoint::Write(Connection& c) {
  while (c.sent < c.answer.size()) {
    const ssize_t n = send(c.fd, c.answer.data() + c.sent, c.answer.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  }
  return false;
}

std::string MetricsEndpoint::Answer(absl::string_view request_head) {
  const absl::string_view line = request_head.substr(0, request_head.find("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp1 == absl::string_view::npos || sp2 == absl::string_view::npos) {
    return HttpAnswer(false, "400 Bad Request", "text/plain", "bad request\n");
  }
  const absl::string_view method = line.substr(0, sp1);
  absl::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  path = path.substr(0, path.find('?'));
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    return HttpAnswer(false, "405 Method Not Allowed", "text/plain", "only GET\n");
  }
  if (path == "/metrics") {
    return HttpAnswer(head_only, "200 OK", "text/plain; version=0.0.4; charset=utf-8", render_());
  }
  if (path == "/") {
    return HttpAnswer(head_only, "200 OK", "text/plain", "ferserve: metrics at /metrics\n");
  }
  return HttpAnswer(head_only, "404 Not Found", "text/plain", "not found\n");
}

}  // namespace fer
