#include "lib/store/kv_profile_store.h"

#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "lib/store/profile_codec.h"

namespace fer {
namespace {

// Prefixes `status`'s message with `context`, keeping its code.
absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

std::string Who(absl::string_view tenant, absl::string_view user_id) {
  return absl::StrCat("profile of user '", user_id, "' (tenant '", tenant, "')");
}

// Sleeps a short random while before retrying a conflicting write.
void Backoff(int attempt) {
  thread_local std::mt19937 rng(std::random_device{}());
  const int max_us = 200 * (1 << std::min(attempt, 6));
  std::this_thread::sleep_for(
      std::chrono::microseconds(std::uniform_int_distribution<int>(0, max_us)(rng)));
}

// Aborted is the conflict answer of both Put (version) and Transact (guard).
bool IsConflict(const absl::Status& status) { return absl::IsAborted(status); }

absl::Status CheckBankShape(const FeatureBank& bank) {
  for (const std::vector<float>& f : bank.features) {
    if (f.size() != bank.dim) {
      return absl::InvalidArgumentError(
          absl::StrCat("feature of ", f.size(), " floats in a bank of dimension ", bank.dim));
    }
  }
  return absl::OkStatus();
}

// The translator version the meta record written by Put names: the new one
// when Put writes a translator, else the one `profile` keeps, which must be
// the stored one (0: none).
absl::StatusOr<uint64_t> TranslatorVersionAfterPut(const Profile& profile, const Profile& stored,
                                                   bool writes_translator, uint64_t new_version) {
  if (writes_translator) return new_version;
  if (profile.translator_version != 0 && profile.translator_version != stored.translator_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        Who(profile.tenant, profile.user_id), " keeps translator version ",
        profile.translator_version, " but the stored one is version ", stored.translator_version));
  }
  return profile.translator_version;
}

// The meta record Put writes for `profile` over `stored` (null: a new user).
Profile MetaAfterPut(const Profile& profile, const Profile* stored, uint64_t new_version,
                     uint64_t translator_version, int64_t now_ms) {
  Profile meta;
  meta.tenant = profile.tenant;
  meta.user_id = profile.user_id;
  meta.version = new_version;
  meta.created_unix_ms = stored != nullptr              ? stored->created_unix_ms
                         : profile.created_unix_ms != 0 ? profile.created_unix_ms
                                                        : now_ms;
  meta.updated_unix_ms = now_ms;
  meta.adapted_unix_ms = profile.adapted_unix_ms;
  meta.bank.dim = profile.bank.dim;
  meta.bank.max_count = profile.bank.max_count;
  meta.enrolled_features = static_cast<uint32_t>(profile.bank.features.size());
  meta.translator_version = translator_version;
  meta.backbone_id = profile.backbone_id;
  meta.quality = profile.quality;
  return meta;
}

// Checks that `plain` decodes as the record `key` of the profile under
// `prefix` names (its meta, features or translator/<N>).
absl::Status CheckRecord(absl::string_view prefix, absl::string_view key, absl::string_view plain) {
  absl::string_view record = key.substr(prefix.size());
  if (record == "meta") {
    Profile meta;
    if (absl::Status s = DecodeProfileMeta(plain, &meta, nullptr); !s.ok()) return s;
    if (ProfileKeyPrefix(meta.tenant, meta.user_id) != prefix) {
      return absl::DataLossError(
          absl::StrCat("belongs to user '", meta.user_id, "' of tenant '", meta.tenant, "'"));
    }
    return absl::OkStatus();
  }
  if (record == "features") return DecodeFeatureBank(plain).status();
  uint64_t version = 0;
  if (absl::ConsumePrefix(&record, "translator/") && absl::SimpleAtoi(record, &version)) {
    return DecodeTranslator(plain, version).status();
  }
  return absl::DataLossError("not a profile record key");
}

// The profile prefix ("fer/v1/<tenant>/<user>/") of a record key; empty
// for keys of no profile.
absl::string_view ProfilePrefixOf(absl::string_view key) {
  size_t end = 0;
  for (int slash = 0; slash < 4; ++slash) {
    end = key.find('/', end);
    if (end == absl::string_view::npos) return {};
    ++end;
  }
  return key.substr(0, end);
}

}  // namespace

KvProfileStore::KvProfileStore(std::unique_ptr<KvBackend> backend,
                               const ProfileStoreOptions& options)
    : backend_(std::move(backend)), options_(options) {}

absl::StatusOr<std::string> KvProfileStore::Seal(const std::string& key, std::string plain) const {
  if (options_.cipher == nullptr) return plain;
  return options_.cipher->Seal(plain, key);
}

absl::StatusOr<std::string> KvProfileStore::Unseal(const std::string& key,
                                                   std::string value) const {
  if (options_.cipher == nullptr) {
    if (RecordCipher::IsSealed(value)) {
      return absl::FailedPreconditionError(absl::StrCat("record ", key, " is encrypted (key id '",
                                                        RecordCipher::SealedKeyId(value),
                                                        "') but no encryption key is configured"));
    }
    return value;
  }
  auto plain = options_.cipher->Open(value, key);
  if (!plain.ok()) return Annotate(plain.status(), absl::StrCat("record ", key));
  return plain;
}

absl::Status KvProfileStore::DecodeMeta(const std::string& key, std::string value,
                                        absl::string_view tenant, absl::string_view user_id,
                                        Profile* meta,
                                        uint64_t* previous_translator_version) const {
  auto plain = Unseal(key, std::move(value));
  if (!plain.ok()) return plain.status();
  if (absl::Status s = DecodeProfileMeta(*plain, meta, previous_translator_version); !s.ok()) {
    return Annotate(s, absl::StrCat("record ", key));
  }
  if (meta->tenant != tenant || meta->user_id != user_id) {
    return absl::DataLossError(absl::StrCat("record ", key, " belongs to user '", meta->user_id,
                                            "' of tenant '", meta->tenant, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Profile> KvProfileStore::Get(absl::string_view tenant, absl::string_view user_id,
                                            uint32_t parts) {
  if (absl::Status s = ValidateProfileId("tenant", tenant); !s.ok()) return s;
  if (absl::Status s = ValidateProfileId("user id", user_id); !s.ok()) return s;
  const std::string meta_key = ProfileMetaKey(tenant, user_id);
  const std::string features_key = ProfileFeaturesKey(tenant, user_id);
  // A writer may replace the translator between reading the meta record and
  // the weights (the previous version is kept, so this takes two writers);
  // then read again.
  constexpr int kAttempts = 5;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::vector<std::string> keys = {meta_key};
    if (parts & kProfileFeatures) keys.push_back(features_key);
    auto values = backend_->MultiGet(keys);
    if (!values.ok()) return values.status();
    if (!(*values)[0].has_value()) {
      return absl::NotFoundError(absl::StrCat("no ", Who(tenant, user_id)));
    }
    Profile profile;
    if (absl::Status s =
            DecodeMeta(meta_key, std::move(*(*values)[0]), tenant, user_id, &profile, nullptr);
        !s.ok()) {
      return s;
    }
    if (parts & kProfileFeatures) {
      if (!(*values)[1].has_value()) {
        return absl::DataLossError(absl::StrCat("record ", features_key, " is missing"));
      }
      auto plain = Unseal(features_key, std::move(*(*values)[1]));
      if (!plain.ok()) return plain.status();
      auto bank = DecodeFeatureBank(*plain);
      if (!bank.ok()) return Annotate(bank.status(), absl::StrCat("record ", features_key));
      if (bank->features.size() != profile.enrolled_features) {
        return absl::DataLossError(absl::StrCat("record ", features_key, " holds ",
                                                bank->features.size(), " features, record ",
                                                meta_key, " counts ", profile.enrolled_features));
      }
      profile.bank = std::move(*bank);
    }
    if ((parts & kProfileTranslator) && profile.translator_version != 0) {
      const std::string key = ProfileTranslatorKey(tenant, user_id, profile.translator_version);
      auto weights = backend_->MultiGet({key});
      if (!weights.ok()) return weights.status();
      if (!(*weights)[0].has_value()) {
        Backoff(attempt);
        continue;  // Replaced meanwhile.
      }
      auto plain = Unseal(key, std::move(*(*weights)[0]));
      if (!plain.ok()) return plain.status();
      auto translator = DecodeTranslator(*plain, profile.translator_version);
      if (!translator.ok()) return Annotate(translator.status(), absl::StrCat("record ", key));
      profile.translator = std::move(*translator);
    }
    return profile;
  }
  return absl::AbortedError(absl::StrCat(Who(tenant, user_id), " kept changing while loading it"));
}

absl::StatusOr<uint64_t> KvProfileStore::Put(const Profile& profile, uint64_t expected_version) {
  const std::string& tenant = profile.tenant;
  const std::string& user_id = profile.user_id;
  if (absl::Status s = ValidateProfileId("tenant", tenant); !s.ok()) return s;
  if (absl::Status s = ValidateProfileId("user id", user_id); !s.ok()) return s;
  if (absl::Status s = CheckBankShape(profile.bank); !s.ok()) return s;
  const std::string meta_key = ProfileMetaKey(tenant, user_id);
  const std::string features_key = ProfileFeaturesKey(tenant, user_id);
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());

  // Encoded once; only the meta record depends on what is stored.
  auto features_value = Seal(features_key, EncodeFeatureBank(profile.bank));
  if (!features_value.ok()) return features_value.status();
  const uint64_t new_version = expected_version + 1;
  std::optional<std::string> translator_value;
  const std::string new_translator_key = ProfileTranslatorKey(tenant, user_id, new_version);
  if (!profile.translator.empty()) {
    auto sealed = Seal(new_translator_key, EncodeTranslator(new_version, profile.translator));
    if (!sealed.ok()) return sealed.status();
    translator_value = std::move(*sealed);
  }

  // Aborted from the backend without a version conflict: the meta record
  // was rewritten at the same version (resealed) meanwhile; write again.
  bool version_conflict = false;
  const auto decide =
      [&](const std::optional<std::string>& stored_value) -> absl::StatusOr<std::vector<KvWrite>> {
    Profile stored;
    uint64_t stored_previous = 0;
    if (stored_value.has_value()) {
      if (absl::Status s =
              DecodeMeta(meta_key, *stored_value, tenant, user_id, &stored, &stored_previous);
          !s.ok()) {
        return s;
      }
    }
    if (stored.version != expected_version) {
      version_conflict = true;
      return absl::AbortedError(absl::StrCat("version conflict on ", Who(tenant, user_id),
                                             ": expected version ", expected_version,
                                             ", stored version ", stored.version));
    }
    auto translator_version =
        TranslatorVersionAfterPut(profile, stored, translator_value.has_value(), new_version);
    if (!translator_version.ok()) return translator_version.status();
    std::vector<KvWrite> writes;
    if (translator_value.has_value()) writes.push_back({new_translator_key, *translator_value});
    uint64_t previous = stored_previous;
    if (*translator_version != stored.translator_version) {
      // The replaced translator stays readable; the one before it goes.
      previous = stored.translator_version;
      if (stored_previous != 0) {
        writes.push_back({ProfileTranslatorKey(tenant, user_id, stored_previous), std::nullopt});
      }
    }
    const Profile meta = MetaAfterPut(profile, stored_value.has_value() ? &stored : nullptr,
                                      new_version, *translator_version, now_ms);
    auto meta_value = Seal(meta_key, EncodeProfileMeta(meta, previous));
    if (!meta_value.ok()) return meta_value.status();
    writes.push_back({features_key, *features_value});
    writes.push_back({meta_key, std::move(*meta_value)});
    return writes;
  };
  absl::Status status;
  for (int attempt = 0; attempt < options_.cas_attempts; ++attempt) {
    status = backend_->Transact(meta_key, decide);
    if (!IsConflict(status) || version_conflict) break;
    Backoff(attempt);
  }
  if (!status.ok()) return status;
  return new_version;
}

absl::StatusOr<Profile> KvProfileStore::AppendFeatures(
    absl::string_view tenant, absl::string_view user_id,
    const std::vector<std::vector<float>>& features) {
  absl::Status last;
  for (int attempt = 0; attempt < options_.cas_attempts; ++attempt) {
    auto current = Get(tenant, user_id, kProfileFeatures);
    Profile profile;
    if (current.ok()) {
      profile = std::move(*current);
    } else if (absl::IsNotFound(current.status())) {
      profile.tenant = std::string(tenant);
      profile.user_id = std::string(user_id);
      profile.bank.max_count = options_.max_features;
    } else {
      return current.status();
    }
    for (const std::vector<float>& f : features) {
      const uint32_t dim = profile.bank.dim;
      if (!profile.bank.Append(f)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "feature of ", f.size(), " floats does not fit the bank of ", Who(tenant, user_id),
            dim == 0 ? std::string() : absl::StrCat(" (dimension ", dim, ")")));
      }
    }
    const uint64_t expected = profile.version;
    auto version = Put(profile, expected);
    if (version.ok()) {
      profile.version = *version;
      profile.enrolled_features = static_cast<uint32_t>(profile.bank.features.size());
      return profile;
    }
    if (!IsConflict(version.status())) return version.status();
    last = version.status();
    Backoff(attempt);
  }
  return absl::AbortedError(absl::StrCat("gave up appending features to ", Who(tenant, user_id),
                                         " after ", options_.cas_attempts,
                                         " conflicting attempts; last: ", last.message()));
}

absl::StatusOr<int64_t> KvProfileStore::Delete(absl::string_view tenant,
                                               absl::string_view user_id) {
  if (absl::Status s = ValidateProfileId("tenant", tenant); !s.ok()) return s;
  if (absl::Status s = ValidateProfileId("user id", user_id); !s.ok()) return s;
  const std::string prefix = ProfileKeyPrefix(tenant, user_id);
  const std::string meta_key = ProfileMetaKey(tenant, user_id);
  int64_t removed = 0;
  for (int attempt = 0; attempt < options_.cas_attempts; ++attempt) {
    auto keys = backend_->ScanKeys(prefix);
    if (!keys.ok()) return keys.status();
    if (keys->empty()) return removed;
    // Every write of a profile changes its meta record, so guarding on it
    // catches a writer adding records between the scan and the delete.
    absl::Status status = backend_->Transact(
        meta_key, [&](const std::optional<std::string>&) -> absl::StatusOr<std::vector<KvWrite>> {
          std::vector<KvWrite> writes;
          for (const std::string& key : *keys) writes.push_back({key, std::nullopt});
          return writes;
        });
    if (status.ok()) {
      removed += static_cast<int64_t>(keys->size());
    } else if (IsConflict(status)) {
      Backoff(attempt);
    } else {
      return status;
    }
  }
  return absl::AbortedError(absl::StrCat("gave up deleting ", Who(tenant, user_id), " after ",
                                         options_.cas_attempts, " conflicting attempts"));
}

absl::Status KvProfileStore::ResealProfile(const std::string& prefix, ResealReport* report) {
  const std::string meta_key = prefix + "meta";
  const RecordCipher& cipher = *options_.cipher;
  for (int attempt = 0; attempt < options_.cas_attempts; ++attempt) {
    // The records and the meta record from one view: every write of a
    // profile rewrites its meta record, so an unchanged meta record at
    // commit time means unchanged records.
    auto current = backend_->ScanKeys(prefix);
    if (!current.ok()) return current.status();
    std::vector<std::string> read = *current;
    read.push_back(meta_key);
    auto values = backend_->MultiGet(read);
    if (!values.ok()) return values.status();
    const std::optional<std::string> meta_value = values->back();
    std::vector<KvWrite> writes;
    for (size_t i = 0; i + 1 < read.size(); ++i) {
      const std::optional<std::string>& value = (*values)[i];
      if (!value.has_value()) continue;  // Deleted between the scan and the read.
      if (RecordCipher::IsSealed(*value) && RecordCipher::SealedKeyId(*value) == cipher.key_id()) {
        continue;
      }
      auto plain = RecordCipher::IsSealed(*value) ? cipher.Open(*value, read[i])
                                                  : absl::StatusOr<std::string>(*value);
      if (!plain.ok()) return Annotate(plain.status(), absl::StrCat("record ", read[i]));
      if (absl::Status s = CheckRecord(prefix, read[i], *plain); !s.ok()) {
        return Annotate(s, absl::StrCat("record ", read[i]));
      }
      auto sealed = cipher.Seal(*plain, read[i]);
      if (!sealed.ok()) return sealed.status();
      writes.push_back({read[i], std::move(*sealed)});
    }
    if (writes.empty()) {
      report->records += static_cast<int64_t>(current->size());
      return absl::OkStatus();
    }
    absl::Status status = backend_->Transact(
        meta_key,
        [&](const std::optional<std::string>& guard) -> absl::StatusOr<std::vector<KvWrite>> {
          if (guard != meta_value) return absl::AbortedError("profile changed while resealing");
          return writes;
        });
    if (status.ok()) {
      report->records += static_cast<int64_t>(current->size());
      report->resealed += static_cast<int64_t>(writes.size());
      return absl::OkStatus();
    }
    if (!IsConflict(status)) return status;
    Backoff(attempt);
  }
  return absl::AbortedError(absl::StrCat("gave up resealing the records under ", prefix, " after ",
                                         options_.cas_attempts, " conflicting attempts"));
}

absl::StatusOr<ResealReport> KvProfileStore::Reseal(ResealGoOn go_on) {
  if (options_.cipher == nullptr) {
    return absl::FailedPreconditionError("resealing needs an encryption key; none is configured");
  }
  auto keys = backend_->ScanKeys(kProfileKeyRoot);
  if (!keys.ok()) return keys.status();
  ResealReport report;
  // Sorted keys: each profile's records are adjacent.
  for (size_t i = 0; i < keys->size();) {
    if (!go_on(report)) {
      report.stopped = true;
      break;
    }
    const std::string prefix(ProfilePrefixOf((*keys)[i]));
    absl::Status status;
    if (prefix.empty()) {
      status = absl::DataLossError(absl::StrCat("key ", (*keys)[i++], " is of no profile"));
    } else {
      while (i < keys->size() && absl::StartsWith((*keys)[i], prefix)) ++i;
      status = ResealProfile(prefix, &report);
    }
    ++report.profiles;
    if (absl::IsUnavailable(status)) return status;
    if (!status.ok()) {
      ++report.failed_profiles;
      if (report.first_error.ok()) report.first_error = status;
    }
  }
  return report;
}

absl::StatusOr<std::vector<std::string>> KvProfileStore::ListKeys(absl::string_view prefix) {
  return backend_->ScanKeys(prefix);
}

}  // namespace fer
