#include "lib/store/record_cipher.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "absl/strings/match.h"

namespace fer {
namespace {

std::string Key(char fill) { return std::string(RecordCipher::kKeySize, fill); }

TEST(RecordCipherTest, SealOpenRoundTripWithFreshNonces) {
  auto cipher = RecordCipher::FromKey(Key('k'), "k1");
  ASSERT_TRUE(cipher.ok()) << cipher.status();
  const std::string plain = "translator weights \x01\x02";
  auto a = (*cipher)->Seal(plain, "fer/v1/t/u/meta");
  auto b = (*cipher)->Seal(plain, "fer/v1/t/u/meta");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);  // Random nonce per record.
  EXPECT_FALSE(absl::StrContains(*a, "translator"));
  EXPECT_TRUE(RecordCipher::IsSealed(*a));
  EXPECT_EQ(RecordCipher::SealedKeyId(*a), "k1");
  auto opened = (*cipher)->Open(*a, "fer/v1/t/u/meta");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, plain);
  auto empty = (*cipher)->Seal("", "aad");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*(*cipher)->Open(*empty, "aad"), "");
}

TEST(RecordCipherTest, RecordMovedToAnotherKeyFails) {
  auto cipher = RecordCipher::FromKey(Key('k'));
  ASSERT_TRUE(cipher.ok());
  auto sealed = (*cipher)->Seal("x", "fer/v1/t/alice/meta");
  auto opened = (*cipher)->Open(*sealed, "fer/v1/t/bob/meta");
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(opened.status().message(), "failed authentication"));
}

TEST(RecordCipherTest, WrongKeyWithSameIdFailsClearly) {
  auto right = RecordCipher::FromKey(Key('a'), "prod");
  auto wrong = RecordCipher::FromKey(Key('b'), "prod");
  auto sealed = (*right)->Seal("weights", "k");
  auto opened = (*wrong)->Open(*sealed, "k");
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(opened.status().message(), "wrong key")) << opened.status();
}

TEST(RecordCipherTest, UnknownKeyIdFailsClearly) {
  auto right = RecordCipher::FromKey(Key('a'));
  auto wrong = RecordCipher::FromKey(Key('b'));
  EXPECT_NE((*right)->key_id(), (*wrong)->key_id());  // Derived from the key.
  auto sealed = (*right)->Seal("weights", "k");
  auto opened = (*wrong)->Open(*sealed, "k");
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(absl::StrContains(opened.status().message(), (*right)->key_id())) << opened.status();
}

TEST(RecordCipherTest, RotationOpensOldRecords) {
  auto old_cipher = RecordCipher::FromKey(Key('o'), "2024");
  auto old_record = (*old_cipher)->Seal("old", "k");
  auto cipher = RecordCipher::FromKey(Key('n'), "2025");
  ASSERT_TRUE((*cipher)->AddDecryptionKey(Key('o'), "2024").ok());
  EXPECT_EQ(*(*cipher)->Open(*old_record, "k"), "old");
  auto new_record = (*cipher)->Seal("new", "k");
  EXPECT_EQ(RecordCipher::SealedKeyId(*new_record), "2025");
  EXPECT_FALSE((*cipher)->AddDecryptionKey(Key('x'), "2024").ok());  // Id taken.
}

TEST(RecordCipherTest, TamperedOrTruncatedRecordsFail) {
  auto cipher = RecordCipher::FromKey(Key('k'));
  auto sealed = *(*cipher)->Seal("some weights", "k");
  for (size_t i = 6; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 1;
    EXPECT_FALSE((*cipher)->Open(bad, "k").ok()) << "byte " << i;
  }
  auto truncated = (*cipher)->Open(sealed.substr(0, 20), "k");
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  auto plain = (*cipher)->Open("FERP plain record", "k");
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RecordCipherTest, KeyFromFileRawOrHex) {
  const std::string dir = ::testing::TempDir();
  const std::string raw_path = dir + "raw.key";
  const std::string hex_path = dir + "hex.key";
  std::ofstream(raw_path, std::ios::binary) << Key('r');
  std::ofstream(hex_path) << std::string(64, 'a') << "\n";
  auto raw = RecordCipher::FromKeyFile(raw_path);
  ASSERT_TRUE(raw.ok()) << raw.status();
  auto hex = RecordCipher::FromKeyFile(hex_path, "hex");
  ASSERT_TRUE(hex.ok()) << hex.status();
  auto from_raw = RecordCipher::FromKey(std::string(32, '\xaa'), "hex");
  EXPECT_EQ(*(*from_raw)->Open(*(*hex)->Seal("v", "k"), "k"), "v");

  auto missing = RecordCipher::FromKeyFile(dir + "does_not_exist.key");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "does_not_exist.key"));
  std::ofstream(dir + "short.key") << "abc";
  auto bad = RecordCipher::FromKeyFile(dir + "short.key");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "64 hex")) << bad.status();
}

TEST(RecordCipherTest, OlderKeyFromFile) {
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "old.key") << std::string(64, 'c') << "\n";
  auto old_cipher = RecordCipher::FromKey(std::string(32, '\xcc'));
  const std::string old_record = *(*old_cipher)->Seal("old", "k");
  auto cipher = RecordCipher::FromKey(Key('n'), "2025");
  EXPECT_EQ((*cipher)->Open(old_record, "k").status().code(), absl::StatusCode::kPermissionDenied);
  auto id = (*cipher)->AddDecryptionKeyFile(dir + "old.key");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, (*old_cipher)->key_id());
  EXPECT_EQ(*(*cipher)->Open(old_record, "k"), "old");
  EXPECT_EQ((*cipher)->key_id(), "2025");  // Still sealing with the primary key.

  const absl::Status missing = (*cipher)->AddDecryptionKeyFile(dir + "gone.key").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(missing.message(), "gone.key")) << missing;
  std::ofstream(dir + "bad.key") << "not a key";
  EXPECT_EQ((*cipher)->AddDecryptionKeyFile(dir + "bad.key").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RecordCipherTest, KeyFromEnvironment) {
  setenv("FER_TEST_STORE_KEY", std::string(64, 'b').c_str(), 1);
  auto cipher = RecordCipher::FromEnv("FER_TEST_STORE_KEY");
  ASSERT_TRUE(cipher.ok()) << cipher.status();
  unsetenv("FER_TEST_STORE_KEY");
  auto missing = RecordCipher::FromEnv("FER_TEST_STORE_KEY");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "FER_TEST_STORE_KEY is not set"));
}

}  // namespace
}  // namespace fer
