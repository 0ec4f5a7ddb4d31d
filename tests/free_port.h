#ifndef FERSERVE_TESTS_FREE_PORT_H_
#define FERSERVE_TESTS_FREE_PORT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <random>
#include <set>

namespace fer::testing {

// Whether a loopback TCP port can be bound now (port 0: any); the bound
// port, or 0.
inline int BindLoopbackPort(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int bound = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    bound = ntohs(addr.sin_port);
  }
  close(fd);
  return bound;
}

// A loopback TCP port for a test server that must know its port before it
// starts (redis-server, nginx, Prometheus; ferserve picks its own). It is
// free now, lies below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), so that no outgoing connection takes it as
// its source port before the server binds it or while the server is down
// for a restart, and is never handed out twice by one test process. Where
// the range leaves no room below it, the kernel's choice.
inline int FreePort() {
  static std::mutex mu;
  static std::set<int> handed_out;
  static std::mt19937 rng(std::random_device{}());
  int ephemeral_low = 32768;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
  constexpr int kFirst = 10000;
  std::lock_guard<std::mutex> lock(mu);
  if (ephemeral_low - kFirst >= 1000) {
    std::uniform_int_distribution<int> pick(kFirst, ephemeral_low - 1);
    for (int attempt = 0; attempt < 1000; ++attempt) {
      const int port = pick(rng);
      if (handed_out.count(port) == 0 && BindLoopbackPort(port) == port) {
        handed_out.insert(port);
        return port;
      }
    }
  }
  for (;;) {
    const int port = BindLoopbackPort(0);
    if (port != 0 && handed_out.insert(port).second) return port;
  }
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_FREE_PORT_H_
