#ifndef FERSERVE_LIB_STORE_PROFILE_STORE_H_
#define FERSERVE_LIB_STORE_PROFILE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/store/profile.h"
#include "lib/store/record_cipher.h"

namespace fer {

// Which parts of a profile Get loads. The metadata (versions, timestamps,
// quality report, bank dimensions and feature count) always comes.
enum ProfileParts : uint32_t {
  kProfileMeta = 0,
  kProfileFeatures = 1,
  kProfileTranslator = 2,
  kProfileAll = kProfileFeatures | kProfileTranslator,
};

// What ProfileStore::Reseal did.
struct ResealReport {
  int64_t profiles = 0;  // Profiles looked at.
  int64_t records = 0;   // Their records.
  int64_t resealed = 0;  // Records sealed again with the current key.
  // Profiles left as they were because a record could not be opened or
  // decoded (a key the cipher lacks, damage); the first such error.
  int64_t failed_profiles = 0;
  absl::Status first_error;
  // Ended early because the caller asked it to stop.
  bool stopped = false;
};

// Users' profiles in a keyed store shared by every replica. Each profile is
// stored as a few records under "fer/v1/<tenant>/<user>/":
//
//   meta                 versions, timestamps, bank dimensions, quality report
//   features             the bounded neutral feature bank
//   translator/<N>       the translator weights written at profile version N
//
// Every write commits all its records atomically and only if the profile's
// version is still the one the writer read (compare-and-set), so concurrent
// writers never interleave and a crash never exposes a partial profile. The
// previous translator version stays readable after a new one is committed,
// so replicas that are loading it finish. Tenant and user ids hold 1 to 128
// characters out of [A-Za-z0-9._@+=:-].
//
// Errors: NotFound (no such profile), Aborted (version conflict), InvalidArgument
// (bad ids or features), Unavailable (store down; the message names it),
// DataLoss (corrupt record), PermissionDenied / FailedPrecondition (wrong or
// missing encryption key). Thread-safe.
class ProfileStore {
 public:
  virtual ~ProfileStore() = default;

  // The store, for messages and logs (never a password).
  virtual std::string Describe() const = 0;

  // Checks that the store answers.
  virtual absl::Status Ping() = 0;

  virtual absl::StatusOr<Profile> Get(absl::string_view tenant, absl::string_view user_id,
                                      uint32_t parts = kProfileAll) = 0;

  // Commits `profile` as version `expected_version + 1` if the stored version
  // is `expected_version` (0: no profile stored yet); else Aborted. Returns
  // the new version. Sets created (first write) and updated times.
  // Translator: non-empty `profile.translator` is stored as a new translator
  // version (= the new profile version); an empty one with a non-zero
  // `translator_version` keeps the stored translator (which must have that
  // version); an empty one with version 0 removes the translator.
  virtual absl::StatusOr<uint64_t> Put(const Profile& profile, uint64_t expected_version) = 0;

  // Appends `features` to the user's bank (creating the profile if needed),
  // evicting the oldest beyond the bank's bound; read-modify-write retried on
  // conflicts. Returns the profile's metadata and features as committed.
  virtual absl::StatusOr<Profile> AppendFeatures(
      absl::string_view tenant, absl::string_view user_id,
      const std::vector<std::vector<float>>& features) = 0;

  // Removes every record of the user; returns how many there were.
  virtual absl::StatusOr<int64_t> Delete(absl::string_view tenant, absl::string_view user_id) = 0;

  // Seals again with the cipher's current key every record sealed with an
  // older key of the cipher (key rotation) or not encrypted at all
  // (encryption turned on for an existing store), one profile at a time.
  // Each record is checked to decode before it is sealed again, and a
  // profile's records are rewritten in one atomic write that is applied only
  // if the profile did not change meanwhile (else it is read again), so
  // concurrent writers and other replicas resealing never lose an update.
  // `go_on` is called before each profile with the report so far (for
  // progress); when it answers false, Reseal ends there (report.stopped).
  // FailedPrecondition without a cipher; Unavailable when the store is
  // down.
  using ResealGoOn = absl::FunctionRef<bool(const ResealReport& so_far)>;
  virtual absl::StatusOr<ResealReport> Reseal(ResealGoOn go_on) = 0;

  // Every stored key starting with `prefix` (for tests and erasure checks).
  virtual absl::StatusOr<std::vector<std::string>> ListKeys(absl::string_view prefix) = 0;
};

// Settings of OpenProfileStore.
struct ProfileStoreOptions {
  // Encrypts every stored value when set (and requires it when reading).
  std::shared_ptr<const RecordCipher> cipher;
  // Bound of a new profile's feature bank.
  uint32_t max_features = 256;
  // Read-modify-write attempts (AppendFeatures, Delete) before Aborted.
  int cas_attempts = 32;

  // RocksDB.
  bool rocksdb_create_if_missing = true;
  bool rocksdb_sync_writes = false;

  // Redis.
  absl::Duration connect_timeout = absl::Seconds(2);
  absl::Duration command_timeout = absl::Seconds(2);
  int redis_pool_size = 8;      // Idle connections kept.
  std::string redis_password;   // Overrides one in the URL.
  std::string tls_ca_file;      // rediss://: CA bundle; empty: system default.
  std::string tls_cert_file;    // rediss://: optional client certificate...
  std::string tls_key_file;     // ...and its key.
  std::string tls_server_name;  // rediss://: name to verify; empty: the URL's host.
};

// Opens the store `url` names:
//   rocksdb:///absolute/path                      embedded RocksDB
//   redis://[[user]:password@]host[:port][/db]    Redis (port 6379, db 0)
//   rediss://...                                  Redis over TLS
// A Redis store connects lazily: opening succeeds while Redis is down.
absl::StatusOr<std::unique_ptr<ProfileStore>> OpenProfileStore(absl::string_view url,
                                                               const ProfileStoreOptions& options);

// Checks a tenant or user id (see ProfileStore).
absl::Status ValidateProfileId(absl::string_view what, absl::string_view id);

// Where every profile record's key starts, "fer/v1/<tenant>/",
// "fer/v1/<tenant>/<user>/" and the record keys.
inline constexpr absl::string_view kProfileKeyRoot = "fer/v1/";
std::string TenantKeyPrefix(absl::string_view tenant);
std::string ProfileKeyPrefix(absl::string_view tenant, absl::string_view user_id);
std::string ProfileMetaKey(absl::string_view tenant, absl::string_view user_id);
std::string ProfileFeaturesKey(absl::string_view tenant, absl::string_view user_id);
std::string ProfileTranslatorKey(absl::string_view tenant, absl::string_view user_id,
                                 uint64_t translator_version);

}  // namespace fer

#endif  // FERSERVE_LIB_STORE_PROFILE_STORE_H_
