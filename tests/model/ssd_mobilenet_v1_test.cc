#include "lib/model/ssd_mobilenet_v1.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lib/model/detector_ops.h"
#include "lib/model/face_detector.h"
#include "lib/model/face_types.h"
#include "lib/model/weight_map.h"
#include "lib/vision/image.h"
#include "lib/vision/image_file.h"
#include "tests/model/detector_test_fixture.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

using ::testing::HasSubstr;

// Faces face-api 1.7.15 (TF.js 4.22, wasm backend) finds in demo photos
// sample1..6 with SsdMobilenetv1Options() defaults (minConfidence 0.5),
// on the pixels OpenCV decodes: 22 in all, every visible face.
constexpr int kFacesPerPhoto[6] = {3, 3, 3, 4, 5, 4};

// Horizontal concatenation of `copies` copies of `image`.
RgbImage Tile(const RgbImage& image, int copies) {
  RgbImage out;
  out.width = image.width * copies;
  out.height = image.height;
  out.pixels.reserve(static_cast<size_t>(out.width) * out.height * 3);
  for (int y = 0; y < image.height; ++y) {
    for (int c = 0; c < copies; ++c) {
      out.pixels.insert(out.pixels.end(), image.row(y), image.row(y) + image.width * 3);
    }
  }
  return out;
}

// How far face-api's SSD boxes can reach: left/top are clamped at 0, but
// right/bottom only at the edge of the padded 512 square, which the image
// fills only along its longer side. Along the shorter side a box may overhang
// the image into the zero padding, by up to a whole square side for thin
// strips (face-api does not clip detections; it clips face crops).
testing::Reach FaceApiReach(const RgbImage& image) {
  const double scale = 512.0 / std::max(image.width, image.height);
  const double reshaped_w = std::max(1.0, std::floor(image.width * scale + 0.5));
  const double reshaped_h = std::max(1.0, std::floor(image.height * scale + 0.5));
  return {static_cast<float>(512 / reshaped_w * image.width),
          static_cast<float>(512 / reshaped_h * image.height)};
}

struct SsdMobilenetv1TestTag {
  static constexpr const char* kName = "ssd_mobilenetv1";
};
using SsdMobilenetv1Test = testing::DetectorTest<SsdMobilenetv1TestTag>;
using testing::ExpectSane;
using testing::Inside;
using testing::Uniform;

TEST_F(SsdMobilenetv1Test, Name) { EXPECT_EQ(detector_->name(), "ssd_mobilenetv1"); }

TEST_F(SsdMobilenetv1Test, FindsThe22FacesOfTheDemoPhotos) {
  int total = 0;
  for (int i = 1; i <= 6; ++i) {
    const DetectOptions options;  // face-api's defaults: 0.5, 100
    const std::vector<FaceDetection> faces = Detect(Photo(i), options);
    EXPECT_EQ(static_cast<int>(faces.size()), kFacesPerPhoto[i - 1]) << "sample" << i;
    ExpectSane(faces, options, Inside(Photo(i)));  // no overhang here
    for (const FaceDetection& f : faces) {
      // Faces in these photos are 140..310 pixels across.
      EXPECT_GT(f.box.width, 100) << "sample" << i;
      EXPECT_LT(f.box.width, 400) << "sample" << i;
    }
    total += static_cast<int>(faces.size());
  }
  EXPECT_EQ(total, 22);
}

TEST_F(SsdMobilenetv1Test, MatchesFaceApiBoxesOnSample1) {
  // face-api 1.7.15 / TF.js 4.22 (wasm) on sample1.jpg as decoded by OpenCV.
  const std::vector<FaceDetection> want = {
      {{414.1156f, 354.7864f, 177.2930f, 239.7529f}, 0.9952680f},
      {{838.0502f, 420.7352f, 186.3958f, 227.8147f}, 0.9935353f},
      {{1476.1521f, 199.4940f, 203.0141f, 240.7719f}, 0.9887530f}};
  testing::ExpectFaceApiFaces(Detect(Photo(1), DetectOptions{}), want, 1e-5);
}

TEST_F(SsdMobilenetv1Test, MaxResultsKeepsTheBest) {
  ASSERT_EQ(Detect(Photo(5), DetectOptions{}).size(), 5u);
  ExpectMaxResultsKeepTheBest(Photo(5), 2);
  ExpectMaxResultsKeepTheBest(Photo(5), 1);
}

TEST_F(SsdMobilenetv1Test, MinScoreFilters) {
  const std::vector<FaceDetection> all = Detect(Photo(2), DetectOptions{});
  const std::vector<FaceDetection> confident = Detect(Photo(2), {0.95f, 100});
  EXPECT_LT(confident.size(), all.size());
  for (const FaceDetection& f : confident) EXPECT_GT(f.score, 0.95f);
}

TEST_F(SsdMobilenetv1Test, NonMaxSuppressionLeavesNoDuplicates) {
  // At a low threshold many priors fire on each face; NMS keeps one per face.
  for (int i = 1; i <= 6; ++i) {
    const DetectOptions options{0.05f, 100};
    const std::vector<FaceDetection> faces = Detect(Photo(i), options);
    EXPECT_GE(static_cast<int>(faces.size()), kFacesPerPhoto[i - 1]);
    ExpectSane(faces, options, FaceApiReach(Photo(i)));
    for (size_t a = 0; a < faces.size(); ++a) {
      for (size_t b = a + 1; b < faces.size(); ++b) {
        // IoU is invariant under the per-axis scaling to pixels; 1e-3 for
        // the clipping at the square's border and float rounding.
        EXPECT_LE(IoU(faces[a].box, faces[b].box), 0.5 + 1e-3)
            << "sample" << i << " faces " << a << " and " << b;
      }
    }
  }
}

TEST_F(SsdMobilenetv1Test, BlankImagesHaveNoFace) {
  EXPECT_TRUE(Detect(Uniform(640, 480, 0), DetectOptions{}).empty());
  EXPECT_TRUE(Detect(Uniform(640, 480, 128), DetectOptions{}).empty());
  EXPECT_TRUE(Detect(Uniform(300, 700, 255), DetectOptions{}).empty());
}

TEST_F(SsdMobilenetv1Test, TinyImagesWork) {
  for (int side : {1, 2, 3}) {
    const RgbImage image = Uniform(side, side, 90);
    const DetectOptions options{0.05f, 100};
    ExpectSane(Detect(image, options), options, Inside(image));  // square
  }
}

TEST_F(SsdMobilenetv1Test, VeryWideAndTallImagesWork) {
  // Three copies of a photo side by side: faces stay within the image.
  const RgbImage wide = Tile(Photo(1), 3);
  const std::vector<FaceDetection> faces = Detect(wide, DetectOptions{});
  ExpectSane(faces, DetectOptions{}, FaceApiReach(wide));
  // Strips so thin that face-api's resized height rounds to 0 pixels.
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{4000, 1}, {1, 4000}, {2000, 3}}) {
    const RgbImage strip = Uniform(w, h, 100);
    const DetectOptions options{0.01f, 100};
    ExpectSane(Detect(strip, options), options, FaceApiReach(strip));
  }
}

TEST_F(SsdMobilenetv1Test, RejectsBadInput) {
  RgbImage empty;
  EXPECT_EQ(detector_->Detect(empty, DetectOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  RgbImage short_buffer = Uniform(10, 10, 0);
  short_buffer.pixels.pop_back();
  EXPECT_EQ(detector_->Detect(short_buffer, DetectOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(detector_->Detect(Uniform(8, 8, 0), {0.f, 10}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(detector_->Detect(Uniform(8, 8, 0), {1.5f, 10}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(detector_->Detect(Uniform(8, 8, 0), {0.5f, 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SsdMobilenetv1Test, ConcurrentDetectionsAgree) {
  const std::vector<FaceDetection> want = Detect(Photo(3), DetectOptions{});
  std::vector<std::vector<FaceDetection>> got(3);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] { got[t] = Detect(Photo(3), DetectOptions{}); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& faces : got) {
    ASSERT_EQ(faces.size(), want.size());
    for (size_t i = 0; i < faces.size(); ++i) {
      EXPECT_FLOAT_EQ(faces[i].score, want[i].score);
      EXPECT_GE(IoU(faces[i].box, want[i].box), 0.9999);
    }
  }
}

TEST_F(SsdMobilenetv1Test, ForwardDecodesAllPriors) {
  auto* ssd = dynamic_cast<SsdMobilenetv1*>(detector_);
  ASSERT_NE(ssd, nullptr);
  const SsdMobilenetv1::Output out = ssd->Forward(torch::zeros({2, 512, 512, 3}));
  EXPECT_EQ(out.boxes.sizes(), (std::vector<int64_t>{2, 5118, 4}));
  EXPECT_EQ(out.scores.sizes(), (std::vector<int64_t>{2, 5118}));
  EXPECT_TRUE(torch::equal(out.boxes[0], out.boxes[1]));
  EXPECT_GE(out.scores.min().item<float>(), 0);
  EXPECT_LE(out.scores.max().item<float>(), 1);
}

TEST(SsdMobilenetv1KernelsTest, FusedKernelsMatchTheLibTorchPort) {
  const torch::Device cpu(torch::kCPU);
  const auto native = SsdMobilenetv1::Load(testing::ModelDir(), cpu, CpuKernels::kNative);
  const auto port = SsdMobilenetv1::Load(testing::ModelDir(), cpu, CpuKernels::kLibTorch);
  ASSERT_TRUE(native.ok()) << native.status();
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_NE((*native)->native(), nullptr);
  ASSERT_EQ((*port)->native(), nullptr);
  for (int photo : {1, 4}) {
    SCOPED_TRACE(::testing::Message() << "sample" << photo);
    const absl::StatusOr<RgbImage> image = ReadImageFile(testing::DemoPhoto(photo));
    ASSERT_TRUE(image.ok()) << image.status();
    const torch::Tensor batch = detector::ImageToBatchTensor(*image, 512, /*center=*/false);
    const SsdMobilenetv1::Output a = (*native)->Forward(batch);
    const SsdMobilenetv1::Output b = (*port)->Forward(batch);
    EXPECT_LT((a.boxes - b.boxes).abs().max().item<double>(), 1e-4);
    EXPECT_LT((a.scores - b.scores).abs().max().item<double>(), 1e-4);
    testing::ExpectSameFaces(**native, **port, *image);
  }
}

TEST(SsdMobilenetv1LoadTest, WrongWeightsAreRejected) {
  // The tiny detector's weights are not the SSD's.
  auto weights = LoadFaceApiWeights(testing::ModelDir(), "tiny_face_detector_model");
  ASSERT_TRUE(weights.ok()) << weights.status();
  const auto ssd = SsdMobilenetv1::FromWeightMap(*weights, torch::Device(torch::kCPU));
  EXPECT_EQ(ssd.status().code(), absl::StatusCode::kNotFound) << ssd.status();
}

// The SSD's real weights with `extra` added and `replace` swapped for
// `replacement`.
WeightMap EditedSsdWeights(const std::string& extra, const std::string& replace = "",
                           const torch::Tensor& replacement = {}) {
  absl::StatusOr<WeightMap> source =
      LoadFaceApiWeights(testing::ModelDir(), SsdMobilenetv1::kModelName);
  EXPECT_TRUE(source.ok()) << source.status();
  WeightMap copy("edited ssd model");
  for (const std::string& name : source->names()) {
    EXPECT_TRUE(copy.Insert(name, name == replace ? replacement : *source->Find(name)).ok());
  }
  if (!extra.empty()) EXPECT_TRUE(copy.Insert(extra, torch::zeros({2})).ok());
  return copy;
}

TEST(SsdMobilenetv1LoadTest, LeftoverTensorsAreErrorsButGraphConstantsAreNot) {
  const torch::Device cpu(torch::kCPU);
  for (CpuKernels kernels : {CpuKernels::kNative, CpuKernels::kLibTorch}) {
    WeightMap constant = EditedSsdWeights("Postprocessor/extra_constant");
    EXPECT_TRUE(SsdMobilenetv1::FromWeightMap(constant, cpu, kernels).ok());

    WeightMap extra = EditedSsdWeights("Prediction/BoxPredictor_6/ClassPredictor/biases");
    const auto loaded = SsdMobilenetv1::FromWeightMap(extra, cpu, kernels);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(loaded.status().message(),
                HasSubstr("unexpected tensors Prediction/BoxPredictor_6/ClassPredictor/biases"));
  }
}

TEST(SsdMobilenetv1LoadTest, MisShapedTensorsAreNamed) {
  const torch::Device cpu(torch::kCPU);
  for (const std::string& name :
       {std::string("Output/extra_dim"),
        std::string("Prediction/BoxPredictor_5/ClassPredictor/biases"),
        std::string("MobilenetV1/Conv2d_13_depthwise/BatchNorm/moving_variance")}) {
    WeightMap edited = EditedSsdWeights("", name, torch::zeros({3}));
    const auto loaded = SsdMobilenetv1::FromWeightMap(edited, cpu);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(loaded.status().message(), HasSubstr(name));
  }
}

TEST(LoadFaceDetectorTest, UnknownNameListsTheKnownOnes) {
  const auto detector = LoadFaceDetector("yolo", testing::ModelDir(), ModelDevice{});
  ASSERT_EQ(detector.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(detector.status().message(), HasSubstr("yolo"));
  EXPECT_THAT(detector.status().message(), HasSubstr("ssd_mobilenetv1"));
  EXPECT_THAT(detector.status().message(), HasSubstr("tiny_face_detector"));
}

TEST(LoadFaceDetectorTest, MissingModelFolderIsNotFound) {
  const auto detector = LoadFaceDetector("ssd_mobilenetv1", "/nonexistent/models", ModelDevice{});
  EXPECT_EQ(detector.status().code(), absl::StatusCode::kNotFound) << detector.status();
}

TEST(LoadFaceDetectorTest, BadDeviceNames) {
  EXPECT_EQ(
      LoadFaceDetector("ssd_mobilenetv1", testing::ModelDir(), ModelDevice{"tpu"}).status().code(),
      absl::StatusCode::kInvalidArgument);
  const auto cuda = LoadFaceDetector("ssd_mobilenetv1", testing::ModelDir(), ModelDevice{"cuda"});
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(cuda.ok()) << cuda.status();
  } else {
    EXPECT_EQ(cuda.status().code(), absl::StatusCode::kFailedPrecondition) << cuda.status();
    EXPECT_THAT(cuda.status().message(), HasSubstr("CUDA"));
  }
}

}  // namespace
}  // namespace fer
