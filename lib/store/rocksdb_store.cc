#include "lib/store/rocksdb_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fer {
namespace {

// Maps a RocksDB status to an absl one, naming the database.
absl::Status FromRocks(const rocksdb::Status& s, const std::string& db, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message =
      absl::StrCat("profile store rocksdb://", db, " ", what, ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsInvalidArgument() || s.IsNotSupported()) return absl::FailedPreconditionError(message);
  return absl::UnavailableError(message);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbBackend>> RocksDbBackend::Open(const std::string& path,
                                                                     const Options& options) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("RocksDB store path must be absolute, got '", path, "'"));
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.IncreaseParallelism(2);
  // Memtables of 16 MiB (RocksDB's default is 64 MiB, two of them): a
  // profile write is about 1.3 MiB (translator and feature bank), and under
  // a steady stream of adaptations the default memtables added some 80 MiB
  // to the server's RSS before their first flush (scripts/soak). Filling a
  // store (fer-store-bench, 2,000 profiles) runs at 159 to 166 profiles/s
  // against 172 to 173 with the default, far above any adaptation rate;
  // loads are unchanged.
  db_options.write_buffer_size = 16 << 20;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(db_options, path, &raw);
  if (!s.ok()) return FromRocks(s, path, "cannot be opened");
  return std::unique_ptr<RocksDbBackend>(
      new RocksDbBackend(path, std::unique_ptr<rocksdb::DB>(raw), options));
}

RocksDbBackend::RocksDbBackend(std::string path, std::unique_ptr<rocksdb::DB> db,
                               const Options& options)
    : path_(std::move(path)), db_(std::move(db)), options_(options) {}

RocksDbBackend::~RocksDbBackend() {
  if (db_ != nullptr) db_->Close().PermitUncheckedError();
}

absl::Status RocksDbBackend::Ping() {
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), "fer/ping", &value);
  if (s.IsNotFound()) return absl::OkStatus();
  return FromRocks(s, path_, "read failed");
}

absl::StatusOr<std::vector<std::optional<std::string>>> RocksDbBackend::MultiGet(
    const std::vector<std::string>& keys) {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  std::vector<std::optional<std::string>> values(keys.size());
  absl::Status status;
  for (size_t i = 0; i < keys.size() && status.ok(); ++i) {
    std::string value;
    const rocksdb::Status s = db_->Get(read, keys[i], &value);
    if (s.ok()) {
      values[i] = std::move(value);
    } else if (!s.IsNotFound()) {
      status = FromRocks(s, path_, absl::StrCat("read of ", keys[i], " failed"));
    }
  }
  db_->ReleaseSnapshot(snapshot);
  if (!status.ok()) return status;
  return values;
}

absl::Status RocksDbBackend::Transact(const std::string& guard_key, Decide decide) {
  absl::MutexLock lock(&write_mu_);
  std::string value;
  std::optional<std::string> guard;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), guard_key, &value);
  if (s.ok()) {
    guard = std::move(value);
  } else if (!s.IsNotFound()) {
    return FromRocks(s, path_, absl::StrCat("read of ", guard_key, " failed"));
  }
  auto writes = decide(guard);
  if (!writes.ok()) return writes.status();
  rocksdb::WriteBatch batch;
  for (const KvWrite& w : *writes) {
    const rocksdb::Status b =
        w.value.has_value() ? batch.Put(w.key, *w.value) : batch.Delete(w.key);
    if (!b.ok()) return FromRocks(b, path_, "batch failed");
  }
  rocksdb::WriteOptions write;
  write.sync = options_.sync_writes;
  return FromRocks(db_->Write(write, &batch), path_, "write failed");
}

absl::StatusOr<std::vector<std::string>> RocksDbBackend::ScanKeys(absl::string_view prefix) {
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    if (!absl::StartsWith(absl::string_view(key.data(), key.size()), prefix)) break;
    keys.emplace_back(key.data(), key.size());
  }
  if (absl::Status s = FromRocks(it->status(), path_, "scan failed"); !s.ok()) return s;
  return keys;
}

}  // namespace fer
