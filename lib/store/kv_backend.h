#ifndef FERSERVE_LIB_STORE_KV_BACKEND_H_
#define FERSERVE_LIB_STORE_KV_BACKEND_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fer {

// One change of an atomic batch: a put, or a delete when `value` is empty.
struct KvWrite {
  std::string key;
  std::optional<std::string> value;
};

// The few operations a profile store needs from a key-value database
// (RocksDB, Redis). Values are opaque bytes. Thread-safe. A database that
// cannot be reached answers Unavailable, naming it.
class KvBackend {
 public:
  virtual ~KvBackend() = default;

  // The database, for messages; never holds a password.
  virtual std::string Describe() const = 0;

  // Checks that the database answers.
  virtual absl::Status Ping() = 0;

  // The values of `keys` (nullopt where absent), read from one consistent
  // view of the database.
  virtual absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) = 0;

  // Reads `guard_key`, asks `decide` for the writes to make given its value,
  // and applies them as one atomic batch, but only if `guard_key` did not
  // change in between; otherwise nothing is written and the answer is
  // Aborted. An error from `decide` is returned as is, with nothing written.
  // `decide` may run more than once.
  using Decide = absl::FunctionRef<absl::StatusOr<std::vector<KvWrite>>(
      const std::optional<std::string>& guard_value)>;
  virtual absl::Status Transact(const std::string& guard_key, Decide decide) = 0;

  // Every key that starts with `prefix`, sorted.
  virtual absl::StatusOr<std::vector<std::string>> ScanKeys(absl::string_view prefix) = 0;
};

}  // namespace fer

#endif  // FERSERVE_LIB_STORE_KV_BACKEND_H_
