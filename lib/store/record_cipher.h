#ifndef FERSERVE_LIB_STORE_RECORD_CIPHER_H_
#define FERSERVE_LIB_STORE_RECORD_CIPHER_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fer {

// AES-256-GCM encryption of stored records (OpenSSL EVP). A sealed record is
//
//   "FERX" | u8 format 1 | u8 key id size | key id | 96-bit nonce | ciphertext | 128-bit tag
//
// with a fresh random nonce per record. The caller passes the record's store
// key as associated data, so a record copied under another user's key fails
// to open. The key id travels with each record, so keys can be rotated: new
// records are sealed with the primary key, older ones open with any key added
// by AddDecryptionKey. A wrong or missing key is a clear error
// (PermissionDenied), never garbage.
//
// Configure fully (AddDecryptionKey) before sharing; then thread-safe.
class RecordCipher {
 public:
  static constexpr size_t kKeySize = 32;

  // `key` holds 32 raw bytes. An empty `key_id` derives one from the key
  // ("sha256:" and the first 8 bytes of its SHA-256, hex).
  static absl::StatusOr<std::unique_ptr<RecordCipher>> FromKey(absl::string_view key,
                                                               std::string key_id = "");
  // A file holding 32 raw bytes or 64 hex characters (surrounding whitespace
  // ignored).
  static absl::StatusOr<std::unique_ptr<RecordCipher>> FromKeyFile(const std::string& path,
                                                                   std::string key_id = "");
  // An environment variable holding 64 hex characters.
  static absl::StatusOr<std::unique_ptr<RecordCipher>> FromEnv(const std::string& variable,
                                                               std::string key_id = "");

  // Parses 32 raw bytes or 64 hex characters into a 32-byte key.
  static absl::StatusOr<std::string> ParseKey(absl::string_view text, absl::string_view origin);

  // Adds an older key that opens (but no longer seals) records.
  absl::Status AddDecryptionKey(absl::string_view key, std::string key_id = "");
  // The same for a key in a file (as FromKeyFile reads it); answers the
  // key's id, derived from it.
  absl::StatusOr<std::string> AddDecryptionKeyFile(const std::string& path);

  // The id of the key new records are sealed with.
  const std::string& key_id() const { return primary_id_; }

  absl::StatusOr<std::string> Seal(absl::string_view plaintext, absl::string_view aad) const;
  absl::StatusOr<std::string> Open(absl::string_view sealed, absl::string_view aad) const;

  // Whether `value` looks like a sealed record (its magic), and its key id.
  static bool IsSealed(absl::string_view value);
  static std::string SealedKeyId(absl::string_view value);

 private:
  RecordCipher() = default;

  std::string primary_id_;
  std::map<std::string, std::string, std::less<>> keys_;  // Key id -> 32-byte key.
};

}  // namespace fer

#endif  // FERSERVE_LIB_STORE_RECORD_CIPHER_H_
