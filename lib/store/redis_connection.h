#ifndef FERSERVE_LIB_STORE_REDIS_CONNECTION_H_
#define FERSERVE_LIB_STORE_REDIS_CONNECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

struct ssl_st;
struct ssl_ctx_st;
struct redisReader;

namespace fer {

// Where and how to reach a Redis server.
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;      // ACL user; empty: the default user.
  std::string password;  // Empty: no AUTH.
  bool tls = false;
  std::string tls_ca_file;      // Empty: the system's CA bundle.
  std::string tls_cert_file;    // Optional client certificate...
  std::string tls_key_file;     // ...and its key.
  std::string tls_server_name;  // Name to verify; empty: `host`.
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(2);

  // "redis://host:port/db" or "rediss://..." (never the password).
  std::string Describe() const;
};

// One Redis reply (hiredis reply types).
struct RedisReply {
  enum Type { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = kNil;
  std::string str;  // kString, kStatus, kError.
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray.
};

// A blocking connection to one Redis server, plain TCP or TLS (OpenSSL),
// speaking RESP through hiredis's command formatter and reply reader. Connect
// and every command are bounded by the endpoint's timeouts. An I/O failure
// answers Unavailable and marks the connection broken. Not thread-safe: one
// user at a time (RedisBackend pools them).
class RedisConnection {
 public:
  // Connects, negotiates TLS, authenticates and selects the database.
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Connect(const RedisEndpoint& endpoint);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends the commands in one write and reads one reply each. Error replies
  // come back as kError replies, not as a failed status.
  absl::StatusOr<std::vector<RedisReply>> Pipeline(
      const std::vector<std::vector<std::string>>& commands);
  absl::StatusOr<RedisReply> Command(const std::vector<std::string>& args);

  bool broken() const { return broken_; }

 private:
  explicit RedisConnection(const RedisEndpoint& endpoint);
  absl::Status Open();
  absl::Status StartTls();
  absl::Status WriteAll(const std::string& data);
  absl::StatusOr<RedisReply> ReadReply();
  absl::Status Fail(absl::string_view what);

  RedisEndpoint endpoint_;
  int fd_ = -1;
  ssl_ctx_st* ssl_ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  redisReader* reader_ = nullptr;
  bool broken_ = false;
};

}  // namespace fer

#endif  // FERSERVE_LIB_STORE_REDIS_CONNECTION_H_
