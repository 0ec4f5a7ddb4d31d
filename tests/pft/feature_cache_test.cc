#include "lib/pft/feature_cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace fer::pft {
namespace {

FeatureCache SmallCache() {
  FeatureCache cache;
  cache.backbone_id = "test-backbone";
  cache.feature_dim = 4;
  SourceFaces source;
  source.path = "alice/alice.mp4";
  source.file_size = 12345;
  source.mtime_ns = -1700000000123456789;
  source.sampling = "video fps=5 neutral[0,2)";
  source.frames = 3;
  source.frames_without_face = 1;
  for (int i = 0; i < 2; ++i) {
    FaceSample face;
    face.subject = "alice";
    face.label = i == 0 ? "neutral" : "happy";
    face.frame_index = 5 * i;
    face.time_s = 0.2f * i;
    face.features = {1.f * i, 2, 3, 4};
    face.landmarks.assign(136, 0.5f + i);
    face.pose = {10, -5, 2.5f};
    source.faces.push_back(face);
  }
  cache.sources.push_back(source);
  SourceFaces empty;
  empty.path = "bob/neutral/x.png";
  empty.frames = 1;
  empty.frames_without_face = 1;
  cache.sources.push_back(empty);
  return cache;
}

TEST(FeatureCacheTest, RoundTripKeepsEveryField) {
  const FeatureCache cache = SmallCache();
  auto decoded = DecodeFeatureCache(EncodeFeatureCache(cache));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->backbone_id, "test-backbone");
  EXPECT_EQ(decoded->feature_dim, 4);
  ASSERT_EQ(decoded->sources.size(), 2u);
  const SourceFaces& s = decoded->sources[0];
  EXPECT_EQ(s.path, "alice/alice.mp4");
  EXPECT_EQ(s.file_size, 12345);
  EXPECT_EQ(s.mtime_ns, -1700000000123456789);
  EXPECT_EQ(s.sampling, cache.sources[0].sampling);
  EXPECT_EQ(s.frames, 3);
  EXPECT_EQ(s.frames_without_face, 1);
  ASSERT_EQ(s.faces.size(), 2u);
  EXPECT_EQ(s.faces[1].label, "happy");
  EXPECT_EQ(s.faces[1].frame_index, 5);
  EXPECT_FLOAT_EQ(s.faces[1].time_s, 0.2f);
  EXPECT_EQ(s.faces[1].features, cache.sources[0].faces[1].features);
  EXPECT_EQ(s.faces[1].landmarks, cache.sources[0].faces[1].landmarks);
  EXPECT_EQ(s.faces[1].pose, cache.sources[0].faces[1].pose);
  EXPECT_TRUE(decoded->sources[1].faces.empty());
}

TEST(FeatureCacheTest, DamageIsRejectedWithAClearError) {
  const std::string bytes = EncodeFeatureCache(SmallCache());
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x01;
  EXPECT_EQ(DecodeFeatureCache(flipped).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(DecodeFeatureCache(flipped).status().message(), ::testing::HasSubstr("CRC-32"));
  EXPECT_EQ(DecodeFeatureCache(bytes.substr(0, bytes.size() - 9)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeFeatureCache("FPFT and more").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FeatureCacheTest, FileRoundTripAndMissingFile) {
  const std::string path = ::testing::TempDir() + "/feature_cache_test.fpc";
  ASSERT_TRUE(WriteFeatureCacheFile(SmallCache(), path).ok());
  auto read = ReadFeatureCacheFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->sources[0].faces.size(), 2u);
  std::remove(path.c_str());
  EXPECT_EQ(ReadFeatureCacheFile(path).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace fer::pft
