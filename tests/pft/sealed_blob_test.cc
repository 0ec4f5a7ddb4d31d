#include "lib/pft/sealed_blob.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "absl/status/status.h"

namespace fer::pft {
namespace {

constexpr SealedFormat kTest = {"TEST", 3, "test blob", 20};

// A blob of kTest holding one u32 and one string.
std::string Blob(uint32_t value, const std::string& text) {
  std::string out;
  StartSealedBlob(kTest, &out);
  ByteWriter w(&out);
  w.U32(value);
  w.String(text);
  SealBlob(&out);
  return out;
}

void ExpectRefused(const std::string& bytes, absl::StatusCode code, const std::string& message) {
  const absl::Status status = OpenSealedBlob(bytes, kTest).status();
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_NE(status.message().find(message), std::string::npos) << status;
}

TEST(Crc32Test, MatchesKnownValue) {
  const char* text = "123456789";
  EXPECT_EQ(Crc32(text, std::strlen(text)), 0xCBF43926u);
  EXPECT_EQ(Crc32(text + 4, 5, Crc32(text, 4)), 0xCBF43926u);
}

TEST(SealedBlobTest, FramesTheFieldsWithMagicVersionAndChecksum) {
  const std::string bytes = Blob(7, "hello");
  EXPECT_EQ(bytes.substr(0, 8), std::string("TEST\x03\x00\x00\x00", 8));
  EXPECT_EQ(bytes.size(), 8 + 4 + 4 + 5 + 4u);
  const uint32_t crc = Crc32(bytes.data(), bytes.size() - 4);
  EXPECT_EQ(bytes.substr(bytes.size() - 4),
            std::string({static_cast<char>(crc), static_cast<char>(crc >> 8),
                         static_cast<char>(crc >> 16), static_cast<char>(crc >> 24)}));

  absl::StatusOr<ByteReader> r = OpenSealedBlob(bytes, kTest);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->U32(), 7u);
  EXPECT_EQ(r->String(), "hello");
  // The reader ends before the checksum.
  EXPECT_EQ(r->remaining(), 0u);
  r->U32();
  EXPECT_FALSE(r->ok());
}

TEST(SealedBlobTest, RefusesOtherMagicDamageTruncationAndOtherVersions) {
  const std::string bytes = Blob(7, "hello");
  ExpectRefused("GIF89a" + bytes, absl::StatusCode::kInvalidArgument,
                "not a test blob (bad magic)");
  ExpectRefused("", absl::StatusCode::kInvalidArgument, "bad magic");
  ExpectRefused(bytes.substr(0, 19), absl::StatusCode::kDataLoss,
                "test blob truncated: 19 bytes, the smallest is 20");
  std::string flipped = bytes;
  flipped[13] ^= 0x10;
  ExpectRefused(flipped, absl::StatusCode::kDataLoss, "test blob corrupt or truncated: CRC-32");
  ExpectRefused(bytes.substr(0, bytes.size() - 1), absl::StatusCode::kDataLoss, "CRC-32");

  // Another version, correctly sealed: refused as such, not as damage.
  std::string future = bytes.substr(0, bytes.size() - 4);
  future[4] = 4;
  SealBlob(&future);
  ExpectRefused(future, absl::StatusCode::kInvalidArgument,
                "test blob has format version 4, this build reads version 3");
}

}  // namespace
}  // namespace fer::pft
