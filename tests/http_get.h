#ifndef FERSERVE_TESTS_HTTP_GET_H_
#define FERSERVE_TESTS_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace fer::testing {

// A socket connected to 127.0.0.1:port; -1 when the connection fails.
inline int ConnectToLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends one raw HTTP request to 127.0.0.1:port and returns the whole
// response (head and body); empty when the connection fails.
inline std::string HttpRequest(int port, const std::string& request) {
  const int fd = ConnectToLoopback(port);
  std::string response;
  if (fd < 0) return response;
  send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) response.append(buffer, n);
  close(fd);
  return response;
}

inline std::string HttpGet(int port, const std::string& path) {
  return HttpRequest(port, "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_HTTP_GET_H_
