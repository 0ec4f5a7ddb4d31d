#ifndef FERSERVE_TESTS_DEPLOY_PROMETHEUS_SERVER_H_
#define FERSERVE_TESTS_DEPLOY_PROMETHEUS_SERVER_H_

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/child_process.h"
#include "tests/free_port.h"
#include "tests/http_get.h"
#include "tests/process_temp_dir.h"

namespace fer::testing {

// `text` percent-encoded for a URL query value.
inline std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// A real Prometheus server on a loopback port, with its TSDB in a fresh
// folder under the test's temp folder, scraping `targets` (host:port of
// /metrics endpoints) every second as job "ferserve" and evaluating
// `rule_files` every second.
class PrometheusServer {
 public:
  PrometheusServer(const std::vector<std::string>& targets,
                   const std::vector<std::string>& rule_files)
      : port_(FreePort()), dir_(ProcessTempDir() + "prometheus_" + std::to_string(port_)) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream conf(dir_ + "/prometheus.yml");
    conf << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n";
    conf << "rule_files:\n";
    for (const std::string& f : rule_files) conf << "  - \"" << f << "\"\n";
    conf << "scrape_configs:\n  - job_name: ferserve\n    static_configs:\n      - targets:\n";
    for (const std::string& t : targets) conf << "          - \"" << t << "\"\n";
    conf.close();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"prometheus", "--config.file=" + dir_ + "/prometheus.yml",
                                 "--storage.tsdb.path=" + dir_ + "/data",
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--log.level=warn"},
        ProcessOutput{dir_ + "/prometheus.log"});
    ready_ =
        process_->WaitUntil([this] { return Get("/-/ready").find(" 200 ") != std::string::npos; },
                            std::chrono::seconds(30));
  }
  ~PrometheusServer() {
    process_.reset();
    std::filesystem::remove_all(dir_);
  }

  bool ok() const { return ready_; }
  std::string Log() const { return process_->Log(); }

  // The whole HTTP response (head and body) to GET `path_and_query`.
  std::string Get(const std::string& path_and_query) const {
    return HttpRequest(port_, "GET " + path_and_query +
                                  " HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  }

  // The JSON body of an API call; a null value when there is none.
  nlohmann::json Api(const std::string& path_and_query) const {
    const std::string response = Get(path_and_query);
    const size_t body = response.find("\r\n\r\n");
    if (body == std::string::npos) return nullptr;
    return nlohmann::json::parse(response.substr(body + 4), nullptr, /*allow_exceptions=*/false);
  }

  // /api/v1/query for an instant PromQL expression.
  nlohmann::json Query(const std::string& promql) const {
    return Api("/api/v1/query?query=" + UrlEncode(promql));
  }

 private:
  const int port_;
  const std::string dir_;
  std::unique_ptr<ChildProcess> process_;
  bool ready_ = false;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_DEPLOY_PROMETHEUS_SERVER_H_
