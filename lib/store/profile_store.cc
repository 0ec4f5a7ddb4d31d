#include "lib/store/profile_store.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "lib/store/kv_profile_store.h"
#include "lib/store/redis_store.h"
#include "lib/store/rocksdb_store.h"

namespace fer {

absl::Status ValidateProfileId(absl::string_view what, absl::string_view id) {
  if (id.empty() || id.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must hold 1 to 128 characters, got ", id.size()));
  }
  for (const char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '@' &&
        c != '+' && c != '=' && c != ':' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " '", absl::CHexEscape(id), "' holds a character outside [A-Za-z0-9._@+=:-]"));
    }
  }
  return absl::OkStatus();
}

std::string TenantKeyPrefix(absl::string_view tenant) {
  return absl::StrCat(kProfileKeyRoot, tenant, "/");
}

std::string ProfileKeyPrefix(absl::string_view tenant, absl::string_view user_id) {
  return absl::StrCat(kProfileKeyRoot, tenant, "/", user_id, "/");
}

std::string ProfileMetaKey(absl::string_view tenant, absl::string_view user_id) {
  return absl::StrCat(ProfileKeyPrefix(tenant, user_id), "meta");
}

std::string ProfileFeaturesKey(absl::string_view tenant, absl::string_view user_id) {
  return absl::StrCat(ProfileKeyPrefix(tenant, user_id), "features");
}

std::string ProfileTranslatorKey(absl::string_view tenant, absl::string_view user_id,
                                 uint64_t translator_version) {
  return absl::StrCat(ProfileKeyPrefix(tenant, user_id), "translator/", translator_version);
}

absl::StatusOr<std::unique_ptr<ProfileStore>> OpenProfileStore(absl::string_view url,
                                                               const ProfileStoreOptions& options) {
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "rocksdb://")) {
    RocksDbBackend::Options rocks;
    rocks.create_if_missing = options.rocksdb_create_if_missing;
    rocks.sync_writes = options.rocksdb_sync_writes;
    auto backend = RocksDbBackend::Open(std::string(rest), rocks);
    if (!backend.ok()) return backend.status();
    return std::make_unique<KvProfileStore>(std::move(*backend), options);
  }
  if (absl::StartsWith(url, "redis://") || absl::StartsWith(url, "rediss://")) {
    RedisEndpoint endpoint;
    if (absl::Status s = ParseRedisUrl(url, &endpoint); !s.ok()) return s;
    if (!options.redis_password.empty()) endpoint.password = options.redis_password;
    endpoint.tls_ca_file = options.tls_ca_file;
    endpoint.tls_cert_file = options.tls_cert_file;
    endpoint.tls_key_file = options.tls_key_file;
    endpoint.tls_server_name = options.tls_server_name;
    endpoint.connect_timeout = options.connect_timeout;
    endpoint.command_timeout = options.command_timeout;
    return std::make_unique<KvProfileStore>(
        std::make_unique<RedisBackend>(endpoint, options.redis_pool_size), options);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown profile store URL '", url,
      "': expected rocksdb:///absolute/path, redis://host:port/db or rediss://host:port/db"));
}

}  // namespace fer
