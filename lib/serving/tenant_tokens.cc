#include "lib/serving/tenant_tokens.h"

#include <openssl/sha.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "lib/files/file_contents.h"
#include "lib/store/profile_store.h"

namespace fer {
namespace {

bool IsSha256Hex(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<TenantTokens> TenantTokens::Parse(absl::string_view text) {
  TenantTokens tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokens line ", line_number, ": expected '<tenant> <sha256 hex of the token>'"));
    }
    if (absl::Status valid = ValidateProfileId("tenant id", fields[0]); !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens line ", line_number, ": ", valid.message()));
    }
    if (!IsSha256Hex(fields[1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens line ", line_number,
                       ": the token hash must be 64 hex digits (SHA-256), never the token itself"));
    }
    const std::string hash = absl::AsciiStrToLower(fields[1]);
    if (!tokens.tenant_by_hash_.emplace(hash, std::string(fields[0])).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens line ", line_number, ": this token hash is listed twice"));
    }
  }
  return tokens;
}

absl::StatusOr<TenantTokens> TenantTokens::ReadFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileContents(path, "the tokens file");
  if (!text.ok()) return text.status();
  absl::StatusOr<TenantTokens> tokens = Parse(*text);
  if (!tokens.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", tokens.status().message()));
  }
  return tokens;
}

std::string TenantTokens::HashToken(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xF]);
  }
  return hex;
}

absl::StatusOr<std::string> TenantTokens::TenantOfAuthorization(
    absl::string_view authorization) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "missing credentials: send 'authorization: Bearer <token>' metadata");
  }
  absl::string_view token = authorization;
  if (!absl::ConsumePrefix(&token, "Bearer ") && !absl::ConsumePrefix(&token, "bearer ")) {
    return absl::UnauthenticatedError("the authorization metadata must be 'Bearer <token>'");
  }
  token = absl::StripAsciiWhitespace(token);
  // Looked up by hash: the comparison never touches the token itself.
  const auto it = tenant_by_hash_.find(HashToken(token));
  if (token.empty() || it == tenant_by_hash_.end()) {
    return absl::UnauthenticatedError("unknown bearer token");
  }
  return it->second;
}

}  // namespace fer
