#include "lib/metrics/metrics_endpoint.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/http_get.h"
#include "tests/poll_until.h"

namespace fer {
namespace {

bool Contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(MetricsEndpointTest, ServesMetricsOnAFreePort) {
  std::atomic<int> renders{0};  // counted on the endpoint's thread
  auto endpoint = MetricsEndpoint::Start("127.0.0.1", 0, [&] {
    ++renders;
    return std::string("ferserve_frames_total 7\n");
  });
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const int port = (*endpoint)->port();
  ASSERT_GT(port, 0);
  const std::string response = testing::HttpGet(port, "/metrics");
  EXPECT_TRUE(Contains(response, "HTTP/1.1 200 OK")) << response;
  EXPECT_TRUE(Contains(response, "text/plain; version=0.0.4")) << response;
  EXPECT_TRUE(Contains(response, "\r\n\r\nferserve_frames_total 7\n")) << response;
  EXPECT_EQ(renders, 1);
}

// HEAD gets GET's status and headers, Content-Length included, and no body.
TEST(MetricsEndpointTest, HeadAnswersAsGetWithoutTheBody) {
  auto endpoint =
      MetricsEndpoint::Start("127.0.0.1", 0, [] { return std::string("ferserve_up 1\n"); });
  ASSERT_TRUE(endpoint.ok());
  const int port = (*endpoint)->port();
  const std::string get = testing::HttpGet(port, "/metrics");
  const std::string head = testing::HttpRequest(port, "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(Contains(get, "Content-Length: 14\r\n")) << get;
  EXPECT_EQ(head, get.substr(0, get.find("\r\n\r\n") + 4));
  EXPECT_EQ(testing::HttpRequest(port, "HEAD /nope HTTP/1.1\r\n\r\n"),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
            "Connection: close\r\n\r\n");
}

TEST(MetricsEndpointTest, AnswersOtherRequestsWithoutRendering) {
  std::atomic<int> renders{0};  // counted on the endpoint's thread
  auto endpoint = MetricsEndpoint::Start("127.0.0.1", 0, [&] {
    ++renders;
    return std::string();
  });
  ASSERT_TRUE(endpoint.ok());
  const int port = (*endpoint)->port();
  EXPECT_TRUE(Contains(testing::HttpGet(port, "/nope"), "404"));
  EXPECT_TRUE(Contains(testing::HttpRequest(port, "POST /metrics HTTP/1.1\r\n\r\n"), "405"));
  EXPECT_TRUE(Contains(testing::HttpRequest(port, "garbage\r\n\r\n"), "400"));
  EXPECT_EQ(renders, 0);
  // Still serving after bad requests.
  EXPECT_TRUE(Contains(testing::HttpGet(port, "/metrics"), "200 OK"));
}

// True once the peer has closed `fd` (end of stream or reset), reading and
// dropping whatever it sent before.
bool PeerClosed(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  char buffer[4096];
  const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN);
}

constexpr auto kTrickle = std::chrono::milliseconds(50);
constexpr auto kPatience = std::chrono::seconds(10);  // far beyond the endpoint's 300 ms

// A client sending its request head a byte at a time, never finishing it,
// is cut off once the connection has taken its time in all (each byte
// arrives well within any per-read timeout), and scrapes go on.
TEST(MetricsEndpointTest, AClientSendingSlowlyIsCutOff) {
  auto endpoint = MetricsEndpoint::Start(
      "127.0.0.1", 0, [] { return std::string("up 1\n"); }, absl::Milliseconds(300));
  ASSERT_TRUE(endpoint.ok());
  const int port = (*endpoint)->port();
  const int fd = testing::ConnectToLoopback(port);
  ASSERT_GE(fd, 0);
  const std::string start = "GET /metrics HTTP/1.1\r\nX-Slow: ";
  ASSERT_EQ(send(fd, start.data(), start.size(), MSG_NOSIGNAL), static_cast<ssize_t>(start.size()));
  const bool closed = testing::PollUntil(
      [fd] { return send(fd, "a", 1, MSG_NOSIGNAL) != 1 || PeerClosed(fd); }, kPatience, kTrickle);
  close(fd);
  EXPECT_TRUE(closed) << "the endpoint kept a trickling client for " << kPatience.count() << " s";
  EXPECT_TRUE(Contains(testing::HttpGet(port, "/metrics"), "up 1\n"));
}

// Clients that stall mid-request take a connection each until their time is
// up, but a scrape arriving meanwhile is answered at once, not after the
// stalled ones are cut off; so is one that arrives while a client reads a
// large answer slowly.
TEST(MetricsEndpointTest, StalledClientsDoNotHoldUpAScrape) {
  const absl::Duration connection_timeout = absl::Seconds(30);
  const std::string big(16 << 20, '#');
  std::atomic<bool> render_big{true};
  auto endpoint = MetricsEndpoint::Start(
      "127.0.0.1", 0, [&] { return render_big.exchange(false) ? big : std::string("up 1\n"); },
      connection_timeout);
  ASSERT_TRUE(endpoint.ok());
  const int port = (*endpoint)->port();
  // One client asks for the large answer and reads none of it.
  const int reader = testing::ConnectToLoopback(port);
  ASSERT_GE(reader, 0);
  const std::string request = "GET /metrics HTTP/1.1\r\n\r\n";
  ASSERT_EQ(send(reader, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  ASSERT_TRUE(testing::PollUntil([&] { return !render_big; }, kPatience));
  std::vector<int> stalled = {reader};
  while (stalled.size() + 1 < MetricsEndpoint::kMaxConnections) {
    const int fd = testing::ConnectToLoopback(port);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(send(fd, "GET /met", 8, MSG_NOSIGNAL), 8);
    stalled.push_back(fd);
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(Contains(testing::HttpGet(port, "/metrics"), "up 1\n"));
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(waited, absl::ToDoubleSeconds(connection_timeout) / 3)
      << "the scrape waited for the stalled clients to be cut off";
  for (int fd : stalled) close(fd);
}

// Beyond kMaxConnections, a new connection waits in the backlog until a
// stalled one is cut off, and is then answered.
TEST(MetricsEndpointTest, AScrapeBeyondTheLimitIsAnsweredOnceAConnectionCloses) {
  auto endpoint = MetricsEndpoint::Start(
      "127.0.0.1", 0, [] { return std::string("up 1\n"); }, absl::Seconds(2));
  ASSERT_TRUE(endpoint.ok());
  const int port = (*endpoint)->port();
  std::vector<int> stalled;
  for (int i = 0; i < MetricsEndpoint::kMaxConnections; ++i) {
    const int fd = testing::ConnectToLoopback(port);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(send(fd, "GET /met", 8, MSG_NOSIGNAL), 8);
    stalled.push_back(fd);
  }
  EXPECT_TRUE(Contains(testing::HttpGet(port, "/metrics"), "up 1\n"));
  int closed_before_the_answer = 0;
  for (int fd : stalled) closed_before_the_answer += PeerClosed(fd) ? 1 : 0;
  EXPECT_GE(closed_before_the_answer, 1) << "the scrape was answered beyond the limit";
  for (int fd : stalled) {
    EXPECT_TRUE(testing::PollUntil([fd] { return PeerClosed(fd); }, kPatience));
    close(fd);
  }
}

// A client reading a large answer a little at a time is cut off the same
// way: after two seconds of that, it gets only what the socket buffers held
// when the endpoint gave up, far from the whole answer.
TEST(MetricsEndpointTest, AClientReadingSlowlyIsCutOff) {
  const std::string big(64 << 20, '#');
  auto endpoint = MetricsEndpoint::Start(
      "127.0.0.1", 0, [&] { return big; }, absl::Milliseconds(300));
  ASSERT_TRUE(endpoint.ok());
  const int fd = testing::ConnectToLoopback((*endpoint)->port());
  ASSERT_GE(fd, 0);
  const std::string request = "GET /metrics HTTP/1.1\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  size_t received = 0;
  char buffer[1 << 16];
  const auto slow_until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < slow_until) {
    std::this_thread::sleep_for(kTrickle);
    const ssize_t n = recv(fd, buffer, 1024, MSG_DONTWAIT);
    if (n > 0) received += static_cast<size_t>(n);
  }
  bool closed = false;
  const auto until = std::chrono::steady_clock::now() + kPatience;
  while (!closed && std::chrono::steady_clock::now() < until) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) received += static_cast<size_t>(n);
    closed = n <= 0;
  }
  close(fd);
  EXPECT_TRUE(closed);
  EXPECT_LT(received, big.size() / 2);
}

TEST(MetricsEndpointTest, ReportsAnAddressInUse) {
  auto first = MetricsEndpoint::Start("127.0.0.1", 0, [] { return std::string(); });
  ASSERT_TRUE(first.ok());
  auto second = MetricsEndpoint::Start("127.0.0.1", (*first)->port(), [] { return std::string(); });
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(MetricsEndpoint::Start("not-an-ip", 0, [] { return std::string(); }).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fer
