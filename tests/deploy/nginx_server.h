#ifndef FERSERVE_TESTS_DEPLOY_NGINX_SERVER_H_
#define FERSERVE_TESTS_DEPLOY_NGINX_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/child_process.h"
#include "tests/free_port.h"
#include "tests/process_temp_dir.h"

namespace fer::testing {

// Whether something accepts TCP connections on 127.0.0.1:port.
inline bool Listening(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// deploy/nginx/ferserve.conf (an http-block include) with its upstream
// `server` lines replaced by one line per port in `backends` (each keeping
// the first line's parameters) and its `listen` port by `listen_port`.
inline std::string SiteConfigFor(const std::string& site_conf, const std::vector<int>& backends,
                                 int listen_port) {
  static const std::regex kServer(R"(^(\s*)server\s+[^\s;]+:\d+([^;]*);\s*$)");
  static const std::regex kListen(R"(^(\s*)listen\s+\d+(\s[^;]*)?;\s*$)");
  std::istringstream in(site_conf);
  std::ostringstream out;
  std::string line;
  bool servers_written = false;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, kServer)) {
      if (!servers_written) {
        for (int port : backends) {
          out << m[1] << "server 127.0.0.1:" << port << m[2] << ";\n";
        }
        servers_written = true;
      }
    } else if (std::regex_match(line, m, kListen)) {
      out << m[1] << "listen 127.0.0.1:" << listen_port << m[2] << ";\n";
    } else {
      out << line << "\n";
    }
  }
  return out.str();
}

// A real nginx, unprivileged (one process: no daemon, no master and
// workers, so that killing it leaves nothing behind; loopback port above
// 1024; every path in a fresh folder under the test's temp folder), serving the
// project's deploy/nginx/ferserve.conf in front of `backends`. Its access
// log records which upstream served each call.
class NginxServer {
 public:
  NginxServer(const std::string& site_conf_path, const std::vector<int>& backends)
      : port_(FreePort()), dir_(ProcessTempDir() + "nginx_" + std::to_string(port_)) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ + "/ferserve.conf")
        << SiteConfigFor(ReadFileContents(site_conf_path), backends, port_);
    std::ofstream conf(dir_ + "/nginx.conf");
    conf << "pid " << dir_ << "/nginx.pid;\n"
         << "error_log " << dir_ << "/error.log info;\n"
         << "events { worker_connections 256; }\n"
         << "http {\n"
         << "  log_format upstream '$http_x_user_id $upstream_addr $status';\n"
         << "  access_log " << dir_ << "/access.log upstream;\n";
    for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      const std::string path = dir_ + "/" + temp + "_temp";
      std::filesystem::create_directories(path);
      conf << "  " << temp << "_temp_path " << path << ";\n";
    }
    conf << "  include " << dir_ << "/ferserve.conf;\n}\n";
    conf.close();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"nginx", "-p", dir_ + "/", "-c", dir_ + "/nginx.conf", "-e",
                                 dir_ + "/error.log", "-g", "daemon off; master_process off;"},
        ProcessOutput{dir_ + "/stdout.log"});
    ready_ = process_->WaitUntil([this] { return Listening(port_); }, std::chrono::seconds(10));
  }
  ~NginxServer() {
    process_.reset();
    std::filesystem::remove_all(dir_);
  }

  bool ok() const { return ready_; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string ErrorLog() const { return ReadFileContents(dir_ + "/error.log") + process_->Log(); }
  // Lines "<x-user-id> <upstream address(es)> <status>", one per call.
  std::string AccessLog() const { return ReadFileContents(dir_ + "/access.log"); }

 private:
  const int port_;
  const std::string dir_;
  std::unique_ptr<ChildProcess> process_;
  bool ready_ = false;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_DEPLOY_NGINX_SERVER_H_
