#ifndef FERSERVE_LIB_STORE_KV_PROFILE_STORE_H_
#define FERSERVE_LIB_STORE_KV_PROFILE_STORE_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "lib/store/kv_backend.h"
#include "lib/store/profile_store.h"

namespace fer {

// ProfileStore on any KvBackend: the record layout, encoding, encryption,
// versioning and compare-and-set live here, the database in the backend.
class KvProfileStore : public ProfileStore {
 public:
  KvProfileStore(std::unique_ptr<KvBackend> backend, const ProfileStoreOptions& options);

  std::string Describe() const override { return backend_->Describe(); }
  absl::Status Ping() override { return backend_->Ping(); }
  absl::StatusOr<Profile> Get(absl::string_view tenant, absl::string_view user_id,
                              uint32_t parts = kProfileAll) override;
  absl::StatusOr<uint64_t> Put(const Profile& profile, uint64_t expected_version) override;
  absl::StatusOr<Profile> AppendFeatures(absl::string_view tenant, absl::string_view user_id,
                                         const std::vector<std::vector<float>>& features) override;
  absl::StatusOr<int64_t> Delete(absl::string_view tenant, absl::string_view user_id) override;
  absl::StatusOr<ResealReport> Reseal(ResealGoOn go_on) override;
  absl::StatusOr<std::vector<std::string>> ListKeys(absl::string_view prefix) override;

  // The database underneath (tests write raw records through it).
  KvBackend* backend() { return backend_.get(); }

 private:
  // Encrypts `plain` for `key` when a cipher is configured.
  absl::StatusOr<std::string> Seal(const std::string& key, std::string plain) const;
  // The inverse; refuses encrypted records without a cipher and plain ones
  // with one.
  absl::StatusOr<std::string> Unseal(const std::string& key, std::string value) const;
  // Decodes a stored meta record of `tenant`/`user_id`.
  absl::Status DecodeMeta(const std::string& key, std::string value, absl::string_view tenant,
                          absl::string_view user_id, Profile* meta,
                          uint64_t* previous_translator_version) const;

  // Reseals the records under one profile's `prefix`; adds what it did to
  // `report`.
  absl::Status ResealProfile(const std::string& prefix, ResealReport* report);

  std::unique_ptr<KvBackend> backend_;
  ProfileStoreOptions options_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_STORE_KV_PROFILE_STORE_H_
