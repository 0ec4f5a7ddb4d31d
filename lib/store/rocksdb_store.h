#ifndef FERSERVE_LIB_STORE_ROCKSDB_STORE_H_
#define FERSERVE_LIB_STORE_ROCKSDB_STORE_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "lib/store/kv_backend.h"

namespace rocksdb {
class DB;
}

namespace fer {

// KvBackend on an embedded RocksDB database (one process owns it). Atomic
// batches are RocksDB WriteBatches; compare-and-set holds a mutex between
// reading the guard and writing. Reads use a snapshot.
class RocksDbBackend : public KvBackend {
 public:
  struct Options {
    bool create_if_missing = true;
    // fsync the write-ahead log on every commit (durability across power
    // loss; atomicity holds either way).
    bool sync_writes = false;
  };

  // Opens (or creates) the database in directory `path`; Unavailable when it
  // cannot (locked by another process, unreadable, ...).
  static absl::StatusOr<std::unique_ptr<RocksDbBackend>> Open(const std::string& path,
                                                              const Options& options);
  ~RocksDbBackend() override;

  std::string Describe() const override { return "rocksdb://" + path_; }
  absl::Status Ping() override;
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override;
  absl::Status Transact(const std::string& guard_key, Decide decide) override;
  absl::StatusOr<std::vector<std::string>> ScanKeys(absl::string_view prefix) override;

 private:
  RocksDbBackend(std::string path, std::unique_ptr<rocksdb::DB> db, const Options& options);

  const std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  const Options options_;
  absl::Mutex write_mu_;  // Serializes Transact.
};

}  // namespace fer

#endif  // FERSERVE_LIB_STORE_ROCKSDB_STORE_H_
