#include "lib/serving/translator_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/pft/translator.h"
#include "lib/pft/translator_codec.h"

namespace fer {
namespace {

// Bytes charged for an entry without weights (key, bookkeeping).
constexpr size_t kEntryOverhead = 128;

std::string CacheKey(absl::string_view tenant, absl::string_view user_id) {
  return absl::StrCat(tenant, "/", user_id);  // ids never contain '/'
}

size_t EntryBytes(const std::string& key, const UserTranslator& user) {
  size_t bytes = kEntryOverhead + key.size();
  if (user.translator != nullptr) {
    bytes += sizeof(float) * static_cast<size_t>(user.translator->num_parameters());
  }
  return bytes;
}

}  // namespace

TranslatorCache::TranslatorCache(ProfileStore* store, TranslatorCacheOptions options)
    : store_(store), options_(std::move(options)) {}

TranslatorCache::~TranslatorCache() = default;

absl::StatusOr<TranslatorLookup> TranslatorCache::Get(absl::string_view tenant,
                                                      absl::string_view user_id) {
  const std::string key = CacheKey(tenant, user_id);
  const absl::Time now = absl::Now();
  TranslatorLookup lookup;
  {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(key);
    if (it != index_.end() && now - it->second->checked < options_.staleness) {
      lru_.splice(lru_.begin(), lru_, it->second);
      if (!it->second->error.ok()) return it->second->error;
      lookup.user = it->second->user;
      return lookup;
    }
  }

  // Ask the store which version is current.
  absl::StatusOr<Profile> meta = store_->Get(tenant, user_id, kProfileMeta);
  uint64_t version = 0;
  if (meta.ok()) {
    version = meta->translator_version;
    if (version != 0 && !meta->backbone_id.empty() && meta->backbone_id != options_.backbone_id) {
      return RememberFailure(key,
                             absl::FailedPreconditionError(absl::StrCat(
                                 "user \"", user_id, "\" was adapted for backbone ",
                                 meta->backbone_id, ", this server runs ", options_.backbone_id)),
                             now);
    }
  } else if (!absl::IsNotFound(meta.status())) {
    return RememberFailure(key, meta.status(), now);
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = index_.find(key);
    if (it != index_.end() && it->second->error.ok() && it->second->user.version == version) {
      it->second->checked = now;
      lru_.splice(lru_.begin(), lru_, it->second);
      lookup.user = it->second->user;
      lookup.source = TranslatorLookup::Source::kRevalidated;
      lookup.store_seconds = absl::ToDoubleSeconds(absl::Now() - now);
      return lookup;
    }
  }
  UserTranslator loaded;
  if (version != 0) {
    absl::StatusOr<UserTranslator> read = LoadTranslator(tenant, user_id);
    if (!read.ok()) return RememberFailure(key, read.status(), now);
    loaded = *std::move(read);
  }
  lookup.user = loaded;
  lookup.source = TranslatorLookup::Source::kLoaded;
  lookup.store_seconds = absl::ToDoubleSeconds(absl::Now() - now);
  absl::MutexLock lock(&mu_);
  lookup.evictions = InsertLocked(key, std::move(loaded), now);
  return lookup;
}

absl::StatusOr<UserTranslator> TranslatorCache::LoadTranslator(absl::string_view tenant,
                                                               absl::string_view user_id) {
  absl::StatusOr<Profile> profile = store_->Get(tenant, user_id, kProfileTranslator);
  if (absl::IsNotFound(profile.status())) return UserTranslator{};  // deleted meanwhile
  if (!profile.ok()) return profile.status();
  UserTranslator user;
  if (profile->translator_version == 0 || profile->translator.empty()) return user;
  absl::StatusOr<pft::Translator> translator = pft::DecodeTranslator(profile->translator);
  if (!translator.ok()) {
    return absl::DataLossError(absl::StrCat("translator of user \"", user_id, "\" (version ",
                                            profile->translator_version,
                                            ") is unreadable: ", translator.status().message()));
  }
  if (translator->dim() != options_.feature_dim) {
    return absl::FailedPreconditionError(
        absl::StrCat("translator of user \"", user_id, "\" is for ", translator->dim(),
                     "-d features, this server's backbone gives ", options_.feature_dim));
  }
  user.version = profile->translator_version;
  user.translator = std::make_shared<const pft::Translator>(*std::move(translator));
  return user;
}

void TranslatorCache::Put(absl::string_view tenant, absl::string_view user_id,
                          UserTranslator user) {
  absl::MutexLock lock(&mu_);
  InsertLocked(CacheKey(tenant, user_id), std::move(user), absl::Now());
}

void TranslatorCache::Erase(absl::string_view tenant, absl::string_view user_id) {
  absl::MutexLock lock(&mu_);
  auto it = index_.find(CacheKey(tenant, user_id));
  if (it == index_.end()) return;
  bytes_ -= it->second->bytes;
  lru_.erase(it->second);
  index_.erase(it);
}

absl::Status TranslatorCache::RememberFailure(const std::string& key, absl::Status error,
                                              absl::Time checked) {
  absl::MutexLock lock(&mu_);
  InsertLocked(key, UserTranslator{}, checked, error);
  return error;
}

int TranslatorCache::InsertLocked(const std::string& key, UserTranslator user, absl::Time checked,
                                  absl::Status error) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  const size_t bytes = EntryBytes(key, user);
  lru_.push_front(Entry{key, std::move(user), bytes, checked, std::move(error)});
  index_[key] = lru_.begin();
  bytes_ += bytes;
  int evicted = 0;
  // Evict from the cold end, never the entry just inserted.
  while (bytes_ > options_.capacity_bytes && lru_.size() > 1) {
    const Entry& victim = lru_.back();
    bytes_ -= victim.bytes;
    index_.erase(victim.key);
    lru_.pop_back();
    ++evicted;
  }
  return evicted;
}

size_t TranslatorCache::entries() const {
  absl::MutexLock lock(&mu_);
  return lru_.size();
}

size_t TranslatorCache::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace fer
