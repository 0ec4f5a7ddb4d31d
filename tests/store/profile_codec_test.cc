#include "lib/store/profile_codec.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"

namespace fer {
namespace {

Profile SampleProfile() {
  Profile p;
  p.tenant = "acme";
  p.user_id = "alice@example.com";
  p.version = 7;
  p.created_unix_ms = 1700000000000;
  p.updated_unix_ms = 1700000005000;
  p.adapted_unix_ms = 1700000004000;
  p.bank.dim = 3;
  p.bank.max_count = 4;
  p.bank.features = {{1.f, 2.f, 3.f}, {-0.5f, 0.25f, 1e-30f}};
  p.enrolled_features = 2;
  p.translator_version = 6;
  p.backbone_id = "face-api-expression-v1";
  p.quality = {0.4, 0.92, 0.031, 40, 200, true};
  return p;
}

// Writes `record`'s checksum anew, as a writer that stored damaged data would
// have.
void Reseal(std::string& record) {
  const uint32_t crc = Crc32c(absl::string_view(record).substr(0, record.size() - 4));
  for (int i = 0; i < 4; ++i) record[record.size() - 4 + i] = static_cast<char>(crc >> (8 * i));
}

TEST(ProfileCodecTest, MetaRoundTrip) {
  const Profile p = SampleProfile();
  const std::string record = EncodeProfileMeta(p, 3);
  Profile decoded;
  uint64_t previous = 0;
  ASSERT_TRUE(DecodeProfileMeta(record, &decoded, &previous).ok());
  EXPECT_EQ(previous, 3u);
  Profile expected = p;
  expected.bank.features.clear();  // The meta record holds no features.
  EXPECT_EQ(decoded, expected);
}

TEST(ProfileCodecTest, FeatureBankRoundTrip) {
  const Profile p = SampleProfile();
  auto bank = DecodeFeatureBank(EncodeFeatureBank(p.bank));
  ASSERT_TRUE(bank.ok()) << bank.status();
  EXPECT_EQ(*bank, p.bank);
  auto empty = DecodeFeatureBank(EncodeFeatureBank(FeatureBank{}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->features.empty());
}

TEST(ProfileCodecTest, TranslatorRoundTripAndVersionCheck) {
  std::string weights(1000, '\0');
  for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>(i * 31);
  const std::string record = EncodeTranslator(9, weights);
  auto decoded = DecodeTranslator(record, 9);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, weights);
  auto wrong = DecodeTranslator(record, 8);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(wrong.status().message(), "expected 8"));
}

TEST(ProfileCodecTest, EveryFlippedByteIsDetected) {
  const std::string record = EncodeFeatureBank(SampleProfile().bank);
  for (size_t i = 0; i < record.size(); ++i) {
    std::string bad = record;
    bad[i] ^= 0x40;
    auto bank = DecodeFeatureBank(bad);
    EXPECT_FALSE(bank.ok()) << "byte " << i;
  }
}

TEST(ProfileCodecTest, CorruptRecordsGiveClearErrors) {
  std::string record = EncodeProfileMeta(SampleProfile(), 0);
  Profile p;
  record[record.size() / 2] ^= 1;
  absl::Status s = DecodeProfileMeta(record, &p, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(s.message(), "checksum mismatch")) << s;

  s = DecodeProfileMeta(record.substr(0, 5), &p, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(s.message(), "too short")) << s;

  s = DecodeProfileMeta("garbage that is long enough", &p, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(s.message(), "bad magic")) << s;

  // A valid record of another kind.
  s = DecodeProfileMeta(EncodeFeatureBank(FeatureBank{}), &p, nullptr);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(s.message(), "record kind")) << s;
}

// A bank of features of 0 floats passes the size check whatever its count
// says; decoding it must not allocate for that count (4 billion empty vectors
// are about 100 GB).
TEST(ProfileCodecTest, FeaturesWithoutADimensionAreRefused) {
  std::string record = EncodeFeatureBank(FeatureBank{});
  // The payload after the 11-byte header: dim, max_count, count (u32 each).
  for (int i = 0; i < 4; ++i) record[11 + 8 + i] = static_cast<char>(0xFF);
  Reseal(record);
  auto bank = DecodeFeatureBank(record);
  EXPECT_EQ(bank.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(bank.status().message(), "4294967295 features of 0 floats"))
      << bank.status();
}

TEST(ProfileCodecTest, NewerFormatVersionIsRefused) {
  std::string record = EncodeFeatureBank(FeatureBank{});
  record[4] = 2;   // Format version, little endian.
  Reseal(record);  // So that only the version differs.
  auto bank = DecodeFeatureBank(record);
  EXPECT_EQ(bank.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(bank.status().message(), "format version 2")) << bank.status();
}

// Records already in stores must stay readable: the bytes of each kind, as
// format version 1 writes them.
TEST(ProfileCodecTest, RecordsKeepTheirBytes) {
  const Profile p = SampleProfile();
  EXPECT_EQ(absl::BytesToHexString(EncodeProfileMeta(p, 3)),
            "464552500100019c0000000400000061636d6511000000616c696365406578616d706c65"
            "2e636f6d07000000000000000068e5cf8b010000887be5cf8b010000a077e5cf8b010000"
            "030000000400000002000000060000000000000003000000000000001600000066616365"
            "2d6170692d65787072657373696f6e2d76319a9999999999d93f713d0ad7a370ed3f5839"
            "b4c876be9f3f2800000000000000c80000000000000001a17c9b76");
  EXPECT_EQ(absl::BytesToHexString(EncodeFeatureBank(p.bank)),
            "46455250010002240000000300000004000000020000000000803f0000004000004040"
            "000000bf0000803e6042a20d4a8a9563");
  EXPECT_EQ(absl::BytesToHexString(EncodeTranslator(9, "weights")),
            "464552500100030f00000009000000000000007765696768747355fc1974");
}

TEST(ProfileCodecTest, Crc32cKnownValue) { EXPECT_EQ(Crc32c("123456789"), 0xE3069283u); }

TEST(ProfileCodecTest, Crc32cAgreesWithThePortableTableOnEveryLengthAndAlignment) {
  std::string data(4099, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 2654435761u) >> 13);
  for (size_t offset : {0, 1, 3, 7}) {
    for (size_t length : {0, 1, 7, 8, 9, 63, 64, 65, 4000}) {
      const absl::string_view piece = absl::string_view(data).substr(offset, length);
      EXPECT_EQ(Crc32c(piece), Crc32cPortableForTesting(piece)) << offset << " " << length;
    }
  }
  EXPECT_EQ(Crc32cPortableForTesting("123456789"), 0xE3069283u);
}

TEST(FeatureBankTest, EvictsOldestAndRejectsMismatchedDimensions) {
  FeatureBank bank;
  bank.max_count = 2;
  EXPECT_TRUE(bank.Append({1, 1}));
  EXPECT_TRUE(bank.Append({2, 2}));
  EXPECT_TRUE(bank.Append({3, 3}));
  EXPECT_FALSE(bank.Append({4, 4, 4}));
  EXPECT_FALSE(bank.Append({}));
  ASSERT_EQ(bank.features.size(), 2u);
  EXPECT_EQ(bank.features[0][0], 2);
  EXPECT_EQ(bank.features[1][0], 3);
  EXPECT_EQ(bank.dim, 2u);
  EXPECT_EQ(bank.Flattened(), (std::vector<float>{2, 2, 3, 3}));  // oldest first
  EXPECT_TRUE(FeatureBank().Flattened().empty());
}

}  // namespace
}  // namespace fer
