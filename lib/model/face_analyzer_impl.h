#ifndef FERSERVE_LIB_MODEL_FACE_ANALYZER_IMPL_H_
#define FERSERVE_LIB_MODEL_FACE_ANALYZER_IMPL_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_analyzer.h"
#include "lib/model/face_detector.h"
#include "lib/model/face_expression_net.h"
#include "lib/model/face_landmark_net.h"
#include "lib/model/net_input.h"

namespace fer {

// face-api's box and point arithmetic (src/classes), in JavaScript doubles.
namespace face_api {

struct BoxD {
  double x = 0;
  double y = 0;
  double width = 0;
  double height = 0;
};

struct PointD {
  double x = 0;
  double y = 0;
};

// FaceDetection.forSize(w, h).box for a detection of a w x h image whose box
// is `box` (pixels): the box goes to relative coordinates and back,
// x * (1 / w) * w, which need not give x back exactly.
BoxD ForSize(const BoxD& box, int image_width, int image_height);

// Box.clipAtImageBorders(w, h): clips the box's left/top to 0 and its
// right/bottom to the image, then floors x, y, width and height each. A box
// with a non-finite coordinate gives an empty rectangle.
PixelRect ClipAtImageBorders(const BoxD& box, int image_width, int image_height);

// The crop extractFaceTensors takes for a detection box: ForSize, then
// ClipAtImageBorders. May be empty (face-api then drops the crop).
PixelRect FaceCropRect(const BoxD& box, int image_width, int image_height);

// FaceLandmarks.align() with its defaults (alignMinBbox, padding 0.2): the
// landmarks' bounding box (its right/bottom start at 0, as minBbox's do),
// grown by 20 % of its width/height, centered.
BoxD AlignMinBbox(const std::vector<PointD>& positions);

// The landmark positions face-api reports (WithFaceLandmarks.landmarks):
// `relative` [136] from FaceLandmarkNet::PostProcess for a crop of
// `crop` size, scaled to the crop and shifted by the detection box's
// unfloored, unclipped top-left `shift`, with face-api's intermediate
// round trips (relative -> crop pixels -> relative -> shifted pixels).
std::vector<PointD> ShiftedLandmarks(const float* relative, const CropSize& crop, PointD shift);

}  // namespace face_api

// The FaceAnalyzer implementation. Its networks are immutable; all methods
// are thread-safe (the detector's Detect is thread-safe by contract).
class FaceAnalyzerImpl final : public FaceAnalyzer {
 public:
  // Loads the landmark and expression nets from config.model_dir on
  // config.device. `detector` may be null: Analyze then fails with
  // FailedPrecondition, everything else works.
  static absl::StatusOr<std::unique_ptr<FaceAnalyzerImpl>> Create(
      const FaceAnalyzerConfig& config, std::unique_ptr<FaceDetector> detector);

  absl::StatusOr<std::vector<FaceAnalysis>> Analyze(const RgbImage& image,
                                                    const AnalyzeOptions& options) override;

  // The pipeline after detection, on given detections (boxes in image pixels
  // as the detector reports them), in their order. A face whose crop is
  // empty after clipping to the image is dropped (face-api would mismatch
  // the remaining results instead).
  absl::StatusOr<std::vector<FaceAnalysis>> AnalyzeDetections(
      const RgbImage& image, const std::vector<FaceDetection>& detections, bool with_features,
      AnalyzeTimings* timings = nullptr);

  absl::StatusOr<std::vector<LocatedFace>> Locate(const RgbImage& image,
                                                  const AnalyzeOptions& options) override;
  absl::StatusOr<BackboneOutput> RunBackbone(const std::vector<RgbImage>& crops) override;
  absl::StatusOr<std::vector<float>> Classify(const std::vector<float>& features,
                                              int batch) override;
  LinearLayerWeights ExpressionHead() const override { return expression_net_.Head(); }

  const std::vector<std::string>& labels() const override { return FaceExpressionNet::Labels(); }
  int feature_dim() const override { return FaceFeatureExtractor::kFeatureDim; }
  int input_size() const override { return FaceFeatureExtractor::kInputSize; }
  std::string backbone_id() const override;
  std::string detector_name() const override;
  std::string device_name() const override { return device_.str(); }

  const FaceLandmarkNet& landmark_net() const { return landmark_net_; }
  const FaceExpressionNet& expression_net() const { return expression_net_; }

 private:
  FaceAnalyzerImpl(torch::Device device, std::unique_ptr<FaceDetector> detector,
                   FaceLandmarkNet landmark_net, FaceExpressionNet expression_net)
      : device_(device),
        detector_(std::move(detector)),
        landmark_net_(std::move(landmark_net)),
        expression_net_(std::move(expression_net)) {}

  // The detector's faces, or options.detections when given.
  absl::StatusOr<std::vector<FaceDetection>> Detect(const RgbImage& image,
                                                    const AnalyzeOptions& options) const;
  // Detection's result through landmarks and alignment: the faces (no
  // probabilities or features yet) and their aligned regions of `image`.
  absl::Status LocateDetections(const RgbImage& image, const std::vector<FaceDetection>& detections,
                                std::vector<FaceAnalysis>* faces,
                                std::vector<ImageRegion>* aligned_regions) const;
  // Landmarks relative to each crop, [regions.size(), 136] on the CPU.
  torch::Tensor RelativeLandmarks(const std::vector<ImageRegion>& regions) const;
  // Expression net on the regions: features [N, 256] and probabilities
  // [N, 7], both on the CPU.
  FaceExpressionNet::Output Expressions(const std::vector<ImageRegion>& regions) const;

  torch::Device device_;
  std::unique_ptr<FaceDetector> detector_;
  FaceLandmarkNet landmark_net_;
  FaceExpressionNet expression_net_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_FACE_ANALYZER_IMPL_H_
