#ifndef FERSERVE_LIB_SERVING_TRANSLATOR_CACHE_H_
#define FERSERVE_LIB_SERVING_TRANSLATOR_CACHE_H_

#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/store/profile_store.h"

namespace fer {
namespace pft {
class Translator;
}  // namespace pft

struct TranslatorCacheOptions {
  // Bound on the weights held (each translator counts its float bytes).
  size_t capacity_bytes = size_t{256} << 20;
  // How long a cached answer is served without asking the store whether the
  // user's translator changed: the longest a replica serves a replaced (or
  // deleted) version after another replica committed the change.
  absl::Duration staleness = absl::Seconds(5);
  // Translators for another backbone or feature size are refused.
  std::string backbone_id;
  int feature_dim = 0;
};

// A user's current translator as far as this replica knows.
struct UserTranslator {
  uint64_t version = 0;  // the profile version the translator was written at; 0: none
  std::shared_ptr<const pft::Translator> translator;  // null: no adapted translator
};

struct TranslatorLookup {
  enum class Source {
    kCache,        // served from memory, checked within the staleness bound
    kRevalidated,  // the store confirmed the cached version
    kLoaded,       // read from the store (miss, or a newer version)
  };
  UserTranslator user;
  Source source = Source::kCache;
  double store_seconds = 0;  // time spent asking the store (0 for kCache)
  int evictions = 0;         // entries evicted to make room
};

// Per-replica LRU cache of users' PFT translators in front of the profile
// store. Users without a profile or without an adapted translator are cached
// too (as "none"), so a stream for such a user does not ask the store per
// frame. Thread-safe; the store is never called under the cache's lock.
class TranslatorCache {
 public:
  TranslatorCache(ProfileStore* store, TranslatorCacheOptions options);
  ~TranslatorCache();

  // The user's translator. Errors: the store's (Unavailable when it is down:
  // nothing older than the staleness bound is served), DataLoss for a corrupt
  // translator record, FailedPrecondition for a translator of another backbone.
  // A failure is remembered for the staleness bound too, so a slow or dead
  // store costs one attempt per user per bound, not one per frame.
  absl::StatusOr<TranslatorLookup> Get(absl::string_view tenant, absl::string_view user_id);

  // Records a translator this replica just committed (after Adapt), so it is
  // served at once.
  void Put(absl::string_view tenant, absl::string_view user_id, UserTranslator user);

  // Forgets the user (after DeleteProfile on this replica).
  void Erase(absl::string_view tenant, absl::string_view user_id);

  size_t entries() const;
  size_t bytes() const;

 private:
  struct Entry {
    std::string key;
    UserTranslator user;
    size_t bytes = 0;
    absl::Time checked;
    absl::Status error;  // the last check's failure, served until the next check
  };
  using Lru = std::list<Entry>;

  // Inserts or replaces, then evicts from the cold end beyond the capacity;
  // returns how many entries were evicted.
  int InsertLocked(const std::string& key, UserTranslator user, absl::Time checked,
                   absl::Status error = absl::OkStatus()) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Remembers a failed check of `key` (keeping no translator).
  absl::Status RememberFailure(const std::string& key, absl::Status error, absl::Time checked);
  absl::StatusOr<UserTranslator> LoadTranslator(absl::string_view tenant,
                                                absl::string_view user_id);

  ProfileStore* store_;
  const TranslatorCacheOptions options_;
  mutable absl::Mutex mu_;
  Lru lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<std::string, Lru::iterator> index_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_TRANSLATOR_CACHE_H_
