#include "lib/metrics/metrics_endpoint.h"

#include <gtest/gtest.h>

#include "tests/http_get.h"

namespace fer {
namespace {

bool Contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(MetricsEndpointTest, ServesMetricsOnAFreePort) {
  int renders = 0;
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

TEST(MetricsEndpointTest, AnswersOtherRequestsWithoutRendering) {
  int renders = 0;
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
