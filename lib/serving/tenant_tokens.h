#ifndef FERSERVE_LIB_SERVING_TENANT_TOKENS_H_
#define FERSERVE_LIB_SERVING_TENANT_TOKENS_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fer {

// Tenants' bearer tokens, kept only as SHA-256 hashes. The file format, one
// tenant per line ('#' starts a comment):
//
//   <tenant id> <hex SHA-256 of the token>
//
// e.g. made with `printf %s "$TOKEN" | sha256sum`. A tenant may have several
// tokens (one line each), for rotation; a token belongs to one tenant.
// Immutable after parsing; thread-safe.
class TenantTokens {
 public:
  // InvalidArgument naming the line for a malformed line, a bad tenant id, a
  // hash that is not 64 hex digits, or a hash listed twice.
  static absl::StatusOr<TenantTokens> Parse(absl::string_view text);
  // Parse on a file's contents; NotFound when it cannot be read.
  static absl::StatusOr<TenantTokens> ReadFile(const std::string& path);

  // Lower-case hex SHA-256 of `token`.
  static std::string HashToken(absl::string_view token);

  // The tenant of an "authorization" metadata value "Bearer <token>";
  // Unauthenticated for a missing, malformed or unknown token.
  absl::StatusOr<std::string> TenantOfAuthorization(absl::string_view authorization) const;

  size_t size() const { return tenant_by_hash_.size(); }
  bool operator==(const TenantTokens& other) const {
    return tenant_by_hash_ == other.tenant_by_hash_;
  }

 private:
  absl::flat_hash_map<std::string, std::string> tenant_by_hash_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_TENANT_TOKENS_H_
