#include "lib/pft/translator_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/pft/sealed_blob.h"

namespace fer::pft {
namespace {

Translator TrainedLookingTranslator() {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  auto base = Translator::Create(24, 40, 1);
  std::vector<float> w2(24 * 40);
  for (float& v : w2) v = normal(rng);
  std::vector<float> b2(24);
  for (float& v : b2) v = normal(rng);
  return *Translator::FromWeights(24, 40, base->w1(), base->b1(), w2, b2);
}

void PutU32(std::string& bytes, size_t offset, uint32_t v) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}

// Recomputes the trailing checksum after an edit, so that only the edit is
// what the decoder sees as wrong.
void Reseal(std::string& bytes) {
  const size_t body = bytes.size() - 4;
  PutU32(bytes, body, Crc32(bytes.data(), body));
}

TEST(TranslatorCodecTest, RoundTripIsExact) {
  const Translator t = TrainedLookingTranslator();
  const std::string bytes = EncodeTranslator(t);
  EXPECT_EQ(bytes.size(), 16 + 4 * static_cast<size_t>(t.num_parameters()) + 4);
  EXPECT_EQ(bytes.substr(0, 4), "FPFT");
  auto decoded = DecodeTranslator(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->dim(), 24);
  EXPECT_EQ(decoded->hidden(), 40);
  EXPECT_EQ(decoded->w1(), t.w1());
  EXPECT_EQ(decoded->b1(), t.b1());
  EXPECT_EQ(decoded->w2(), t.w2());
  EXPECT_EQ(decoded->b2(), t.b2());
  EXPECT_EQ(EncodeTranslator(*decoded), bytes);
}

TEST(TranslatorCodecTest, WritesLittleEndianHeader) {
  const std::string bytes = EncodeTranslator(TrainedLookingTranslator());
  EXPECT_EQ(bytes.substr(4, 4), std::string("\x01\x00\x00\x00", 4));
  EXPECT_EQ(bytes.substr(8, 4), std::string("\x18\x00\x00\x00", 4));   // 24
  EXPECT_EQ(bytes.substr(12, 4), std::string("\x28\x00\x00\x00", 4));  // 40
}

TEST(TranslatorCodecTest, RejectsFlippedBit) {
  std::string bytes = EncodeTranslator(TrainedLookingTranslator());
  bytes[100] ^= 0x04;
  auto decoded = DecodeTranslator(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << decoded.status();
  EXPECT_NE(decoded.status().message().find("CRC-32"), std::string::npos);
}

TEST(TranslatorCodecTest, RejectsTruncated) {
  const std::string bytes = EncodeTranslator(TrainedLookingTranslator());
  for (size_t size : {size_t{10}, size_t{19}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    auto decoded = DecodeTranslator(bytes.substr(0, size));
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << size;
  }
}

TEST(TranslatorCodecTest, RejectsWrongVersion) {
  std::string bytes = EncodeTranslator(TrainedLookingTranslator());
  PutU32(bytes, 4, 2);
  Reseal(bytes);
  auto decoded = DecodeTranslator(bytes);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(decoded.status().message().find("version 2"), std::string::npos) << decoded.status();
}

TEST(TranslatorCodecTest, RejectsBadMagicAndEmpty) {
  std::string bytes = EncodeTranslator(TrainedLookingTranslator());
  bytes[0] = 'X';
  EXPECT_EQ(DecodeTranslator(bytes).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeTranslator("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TranslatorCodecTest, RejectsSizesInconsistentWithLength) {
  std::string bytes = EncodeTranslator(TrainedLookingTranslator());
  PutU32(bytes, 12, 41);  // hidden 41: length no longer matches
  Reseal(bytes);
  EXPECT_EQ(DecodeTranslator(bytes).status().code(), absl::StatusCode::kDataLoss);
  PutU32(bytes, 12, 0);
  Reseal(bytes);
  EXPECT_EQ(DecodeTranslator(bytes).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace fer::pft
