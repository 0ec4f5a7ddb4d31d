#include "lib/pft/model_bundle_codec.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "lib/files/byte_io.h"
#include "lib/pft/linear_head.h"
#include "lib/pft/sealed_blob.h"
#include "lib/pft/translator_codec.h"

namespace fer::pft {
namespace {

FeatureStats Stats(int dim, float scale) {
  FeatureStats stats;
  stats.dim = dim;
  stats.count = 17;
  for (int i = 0; i < dim; ++i) stats.mean.push_back(scale * i);
  for (int i = 0; i < dim * dim; ++i) stats.covariance.push_back(scale / (1 + i));
  return stats;
}

ModelBundle SmallBundle() {
  ModelBundle bundle{*Translator::Create(6, 10, 3)};
  bundle.source_neutral = Stats(6, 0.5f);
  bundle.source_neutral_translated = Stats(6, 0.25f);
  bundle.backbone_id = "test-backbone";
  bundle.feature_dim = 6;
  bundle.labels = {"neutral", "happy", "surprised"};
  bundle.neutral_index = 0;
  bundle.training_config = {{"epochs", "3"}, {"pairing", "landmark"}};
  return bundle;
}

void Reseal(std::string& bytes) {
  const size_t body = bytes.size() - 4;
  const uint32_t crc = Crc32(bytes.data(), body);
  for (int i = 0; i < 4; ++i) bytes[body + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
}

TEST(ModelBundleCodecTest, RoundTripKeepsEveryField) {
  const ModelBundle bundle = SmallBundle();
  const std::string bytes = EncodeModelBundle(bundle);
  EXPECT_EQ(bytes.substr(0, 4), "FPFB");
  absl::StatusOr<ModelBundle> decoded = DecodeModelBundle(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(EncodeTranslator(decoded->translator), EncodeTranslator(bundle.translator));
  EXPECT_EQ(decoded->source_neutral.mean, bundle.source_neutral.mean);
  EXPECT_EQ(decoded->source_neutral.covariance, bundle.source_neutral.covariance);
  EXPECT_EQ(decoded->source_neutral.count, 17);
  EXPECT_EQ(decoded->source_neutral_translated.mean, bundle.source_neutral_translated.mean);
  EXPECT_EQ(decoded->backbone_id, "test-backbone");
  EXPECT_EQ(decoded->feature_dim, 6);
  EXPECT_EQ(decoded->labels, bundle.labels);
  EXPECT_EQ(decoded->neutral_index, 0);
  EXPECT_EQ(decoded->training_config, bundle.training_config);
  EXPECT_EQ(EncodeModelBundle(*decoded), bytes);
}

TEST(ModelBundleCodecTest, EveryFlippedByteAndTruncationIsRejected) {
  const std::string bytes = EncodeModelBundle(SmallBundle());
  for (size_t i = 0; i < bytes.size(); i += 7) {
    std::string damaged = bytes;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5A);
    const absl::Status status = DecodeModelBundle(damaged).status();
    EXPECT_FALSE(status.ok()) << "byte " << i;
    if (i >= 4) EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << "byte " << i;
  }
  for (size_t size : {size_t{0}, size_t{3}, size_t{8}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_FALSE(DecodeModelBundle(bytes.substr(0, size)).ok()) << size;
  }
}

TEST(ModelBundleCodecTest, ForeignBlobsAndFutureVersionsAreInvalidArgument) {
  EXPECT_EQ(DecodeModelBundle("GIF89a not a bundle").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A translator blob is not a bundle.
  EXPECT_EQ(DecodeModelBundle(EncodeTranslator(*Translator::Create(4, 4))).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string future = EncodeModelBundle(SmallBundle());
  future[4] = 2;
  Reseal(future);
  const absl::Status status = DecodeModelBundle(future).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("format version 2"), std::string::npos) << status;
}

TEST(ModelBundleCodecTest, InconsistentFieldsAreDataLoss) {
  ModelBundle wrong_dim = SmallBundle();
  wrong_dim.feature_dim = 8;
  ModelBundle wrong_statistics = SmallBundle();
  wrong_statistics.source_neutral_translated = Stats(5, 1);
  ModelBundle wrong_neutral = SmallBundle();
  wrong_neutral.neutral_index = 3;
  ModelBundle one_label = SmallBundle();
  one_label.labels = {"neutral"};
  for (const auto& [bundle, message] : std::vector<std::pair<ModelBundle, std::string>>{
           {wrong_dim, "inconsistent feature dims (bundle 8, translator 6, statistics 6/6)"},
           {wrong_statistics, "inconsistent feature dims (bundle 6, translator 6, statistics 6/5)"},
           {wrong_neutral, "neutral index 3 outside 3 labels"},
           {one_label, "neutral index 0 outside 1 labels"}}) {
    const absl::Status status = DecodeModelBundle(EncodeModelBundle(bundle)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << message;
    EXPECT_NE(status.message().find(message), std::string::npos) << status;
  }
}

// SmallBundle's encoding with these training-config entries, in this order.
std::string WithTrainingConfig(const std::vector<std::pair<std::string, std::string>>& entries) {
  ModelBundle bundle = SmallBundle();
  bundle.training_config.clear();
  std::string bytes = EncodeModelBundle(bundle);
  bytes.resize(bytes.size() - 8);  // the entry count (0) and the CRC-32
  ByteWriter w(&bytes);
  w.U32(static_cast<uint32_t>(entries.size()));
  for (const auto& [key, value] : entries) {
    w.String(key);
    w.String(value);
  }
  w.U32(0);
  Reseal(bytes);
  return bytes;
}

TEST(ModelBundleCodecTest, TrainingConfigKeysAreUniqueAndInOrder) {
  const std::string ordered = WithTrainingConfig({{"epochs", "3"}, {"pairing", "landmark"}});
  EXPECT_EQ(ordered, EncodeModelBundle(SmallBundle()));
  ASSERT_TRUE(DecodeModelBundle(ordered).ok());
  for (const std::string& bytes :
       {WithTrainingConfig({{"epochs", "3"}, {"epochs", "4"}}),
        WithTrainingConfig({{"pairing", "landmark"}, {"epochs", "3"}})}) {
    const absl::Status status = DecodeModelBundle(bytes).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
    EXPECT_NE(status.message().find("repeated or out of order"), std::string::npos) << status;
  }
}

TEST(ModelBundleCodecTest, DamageIsNamedAsSuch) {
  std::string bytes = EncodeModelBundle(SmallBundle());
  bytes[bytes.size() / 2] ^= 0x01;
  const absl::Status flipped = DecodeModelBundle(bytes).status();
  EXPECT_NE(flipped.message().find("CRC-32 mismatch"), std::string::npos) << flipped;
  const absl::Status stub = DecodeModelBundle("FPFB1234").status();
  EXPECT_EQ(stub.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(stub.message().find("truncated: 8 bytes"), std::string::npos) << stub;
}

TEST(ModelBundleCodecTest, FilesRoundTripAndMissingFileIsNotFound) {
  const std::string path = ::testing::TempDir() + "/bundle_codec_test.fpb";
  ASSERT_TRUE(WriteModelBundleFile(SmallBundle(), path).ok());
  absl::StatusOr<ModelBundle> read = ReadModelBundleFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->labels.size(), 3u);
  {
    std::ofstream truncate(path, std::ios::binary | std::ios::trunc);
    truncate << "FPFB";
  }
  const absl::Status damaged = ReadModelBundleFile(path).status();
  EXPECT_EQ(damaged.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(damaged.message().find(path), std::string::npos) << damaged;
  std::remove(path.c_str());
  EXPECT_EQ(ReadModelBundleFile(path).status().code(), absl::StatusCode::kNotFound);
}

TEST(LinearHeadFromLayerTest, ChecksSizesAgainstLabels) {
  LinearLayerWeights layer{2, 3, {1, 2, 3, 4, 5, 6}, {0.5f, -0.5f}};
  absl::StatusOr<LinearHead> head = LinearHeadFromLayer(layer, {"neutral", "happy"});
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->feature_dim(), 3);
  EXPECT_EQ(head->layer.weight, layer.weight);
  LinearHead relabelled = *head;
  relabelled.labels.push_back("sad");  // three labels for a two-class layer
  EXPECT_EQ(relabelled.Validate().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(relabelled.Probabilities({0, 0, 0}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LinearHeadFromLayer(layer, {"neutral"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  layer.bias.pop_back();
  EXPECT_EQ(LinearHeadFromLayer(layer, {"neutral", "happy"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fer::pft
