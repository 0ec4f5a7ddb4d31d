#ifndef FERSERVE_LIB_STORE_REDIS_STORE_H_
#define FERSERVE_LIB_STORE_REDIS_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "lib/store/kv_backend.h"
#include "lib/store/redis_connection.h"

namespace fer {

// Parses redis://[[user]:password@]host[:port][/db] or rediss://... (TLS)
// into `endpoint`'s address, credentials and tls flag (other fields kept).
// The password may be percent-encoded.
absl::Status ParseRedisUrl(absl::string_view url, RedisEndpoint* endpoint);

// KvBackend on a Redis server shared by every replica. Atomic batches are
// MULTI/EXEC transactions; compare-and-set WATCHes the guard key. Connections
// are opened lazily and pooled; a broken one is dropped (with the idle ones,
// which likely broke too) and the next call reconnects, so the store recovers
// by itself when Redis comes back. Reads retry once on a fresh connection.
class RedisBackend : public KvBackend {
 public:
  // Never fails for an unreachable server: calls answer Unavailable until it
  // is up.
  RedisBackend(const RedisEndpoint& endpoint, int max_idle_connections);

  std::string Describe() const override { return endpoint_.Describe(); }
  absl::Status Ping() override;
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override;
  absl::Status Transact(const std::string& guard_key, Decide decide) override;
  absl::StatusOr<std::vector<std::string>> ScanKeys(absl::string_view prefix) override;

  // Runs one raw command (tests use it to plant records).
  absl::StatusOr<RedisReply> RawCommand(const std::vector<std::string>& args);

 private:
  // A connection: an idle one, else a new one (`*reused` says which).
  absl::StatusOr<std::unique_ptr<RedisConnection>> Acquire(bool* reused);
  void Release(std::unique_ptr<RedisConnection> connection);
  // Runs `op` on a connection; when it fails Unavailable on a reused
  // connection and `retry_ok` says so, once more on a fresh one.
  absl::Status WithConnection(
      const std::function<absl::Status(RedisConnection&, bool* retry_ok)>& op);
  // Turns an error reply into a status naming the store.
  absl::Status ReplyError(const RedisReply& reply, absl::string_view command) const;

  const RedisEndpoint endpoint_;
  const int max_idle_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<RedisConnection>> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fer

#endif  // FERSERVE_LIB_STORE_REDIS_STORE_H_
