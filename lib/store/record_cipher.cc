#include "lib/store/record_cipher.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/files/file_contents.h"

namespace fer {
namespace {

constexpr char kMagic[4] = {'F', 'E', 'R', 'X'};
constexpr uint8_t kFormat = 1;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

std::string DeriveKeyId(absl::string_view key) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), digest);
  return absl::StrCat(
      "sha256:", absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8)));
}

absl::Status CheckKeyId(const std::string& id) {
  if (id.empty() || id.size() > 255) {
    return absl::InvalidArgumentError("encryption key id must hold 1 to 255 characters");
  }
  return absl::OkStatus();
}

// The key in the file at `path`: 32 raw bytes or 64 hex characters.
absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileContents(path, "encryption key file");
  if (!text.ok()) return absl::FailedPreconditionError(text.status().message());
  return RecordCipher::ParseKey(*text, absl::StrCat("file '", path, "'"));
}

}  // namespace

absl::StatusOr<std::string> RecordCipher::ParseKey(absl::string_view text,
                                                   absl::string_view origin) {
  if (text.size() == kKeySize) return std::string(text);
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.size() == 2 * kKeySize) {
    bool hex = true;
    for (const char c : trimmed) hex = hex && absl::ascii_isxdigit(static_cast<unsigned char>(c));
    if (hex) return absl::HexStringToBytes(trimmed);
  }
  return absl::InvalidArgumentError(absl::StrCat("encryption key from ", origin,
                                                 " must be 32 raw bytes or 64 hex characters (got ",
                                                 text.size(), " bytes)"));
}

absl::StatusOr<std::unique_ptr<RecordCipher>> RecordCipher::FromKey(absl::string_view key,
                                                                    std::string key_id) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM key must be 32 bytes, got ", key.size()));
  }
  if (key_id.empty()) key_id = DeriveKeyId(key);
  if (absl::Status s = CheckKeyId(key_id); !s.ok()) return s;
  std::unique_ptr<RecordCipher> cipher(new RecordCipher());
  cipher->primary_id_ = key_id;
  cipher->keys_.emplace(std::move(key_id), std::string(key));
  return cipher;
}

absl::StatusOr<std::unique_ptr<RecordCipher>> RecordCipher::FromKeyFile(const std::string& path,
                                                                        std::string key_id) {
  auto key = ReadKeyFile(path);
  if (!key.ok()) return key.status();
  return FromKey(*key, std::move(key_id));
}

absl::StatusOr<std::unique_ptr<RecordCipher>> RecordCipher::FromEnv(const std::string& variable,
                                                                    std::string key_id) {
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr || *value == '\0') {
    return absl::FailedPreconditionError(
        absl::StrCat("encryption key environment variable ", variable, " is not set"));
  }
  auto key = ParseKey(value, absl::StrCat("environment variable ", variable));
  if (!key.ok()) return key.status();
  return FromKey(*key, std::move(key_id));
}

absl::Status RecordCipher::AddDecryptionKey(absl::string_view key, std::string key_id) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-256-GCM key must be 32 bytes, got ", key.size()));
  }
  if (key_id.empty()) key_id = DeriveKeyId(key);
  if (absl::Status s = CheckKeyId(key_id); !s.ok()) return s;
  auto [it, inserted] = keys_.emplace(key_id, std::string(key));
  if (!inserted && it->second != key) {
    return absl::InvalidArgumentError(
        absl::StrCat("encryption key id '", key_id, "' is already used by another key"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RecordCipher::AddDecryptionKeyFile(const std::string& path) {
  auto key = ReadKeyFile(path);
  if (!key.ok()) return key.status();
  std::string key_id = DeriveKeyId(*key);
  if (absl::Status s = AddDecryptionKey(*key, key_id); !s.ok()) return s;
  return key_id;
}

bool RecordCipher::IsSealed(absl::string_view value) {
  return value.size() >= 4 && std::memcmp(value.data(), kMagic, 4) == 0;
}

std::string RecordCipher::SealedKeyId(absl::string_view value) {
  if (!IsSealed(value) || value.size() < 6) return "";
  const size_t n = static_cast<uint8_t>(value[5]);
  if (value.size() < 6 + n) return "";
  return std::string(value.substr(6, n));
}

absl::StatusOr<std::string> RecordCipher::Seal(absl::string_view plaintext,
                                               absl::string_view aad) const {
  const std::string& key = keys_.at(primary_id_);
  std::string out(kMagic, 4);
  out.push_back(static_cast<char>(kFormat));
  out.push_back(static_cast<char>(primary_id_.size()));
  out.append(primary_id_);
  const size_t nonce_at = out.size();
  out.resize(nonce_at + kNonceSize + plaintext.size() + kTagSize);
  auto* nonce = reinterpret_cast<unsigned char*>(out.data() + nonce_at);
  if (RAND_bytes(nonce, kNonceSize) != 1) {
    return absl::InternalError("OpenSSL RAND_bytes failed to produce a nonce");
  }
  auto* body = nonce + kNonceSize;
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int total = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), body, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), body + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, body + plaintext.size()) !=
          1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> RecordCipher::Open(absl::string_view sealed,
                                               absl::string_view aad) const {
  if (!IsSealed(sealed)) {
    return absl::FailedPreconditionError(
        "record is not encrypted, but encryption at rest is configured");
  }
  if (sealed.size() < 6 || static_cast<uint8_t>(sealed[4]) != kFormat) {
    return absl::DataLossError("encrypted record corrupt: unknown or missing format byte");
  }
  const size_t id_size = static_cast<uint8_t>(sealed[5]);
  if (sealed.size() < 6 + id_size + kNonceSize + kTagSize) {
    return absl::DataLossError(
        absl::StrCat("encrypted record corrupt: truncated (", sealed.size(), " bytes)"));
  }
  const absl::string_view id = sealed.substr(6, id_size);
  const auto it = keys_.find(id);
  if (it == keys_.end()) {
    std::vector<std::string> known;
    for (const auto& [k, v] : keys_) known.push_back(absl::StrCat("'", k, "'"));
    return absl::PermissionDeniedError(absl::StrCat("record is encrypted with key id '", id,
                                                    "', which is not among the configured keys (",
                                                    absl::StrJoin(known, ", "), ")"));
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data() + 6 + id_size);
  const auto* body = nonce + kNonceSize;
  const size_t body_size = sealed.size() - 6 - id_size - kNonceSize - kTagSize;
  std::string plain(body_size, '\0');
  CtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  std::string tag(reinterpret_cast<const char*>(body + body_size), kTagSize);
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(it->second.data()), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, body,
                        static_cast<int>(body_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1) {
    return absl::InternalError("AES-256-GCM decryption failed to start");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len,
                          &final_len) != 1) {
    return absl::PermissionDeniedError(
        absl::StrCat("record failed authentication with key id '", id,
                     "': wrong key, a tampered record, or a record moved from another store key"));
  }
  return plain;
}

}  // namespace fer
