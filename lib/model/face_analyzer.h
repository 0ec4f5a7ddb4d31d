#ifndef FERSERVE_LIB_MODEL_FACE_ANALYZER_H_
#define FERSERVE_LIB_MODEL_FACE_ANALYZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_detector.h"
#include "lib/model/face_types.h"
#include "lib/vision/image.h"

namespace fer {

struct FaceAnalyzerConfig {
  std::string model_dir;                     // face-api's package/model folder
  std::string detector = "ssd_mobilenetv1";  // or "tiny_face_detector"
  ModelDevice device;
};

// Wall time spent in each step of one Analyze call, in seconds.
struct AnalyzeTimings {
  double detection = 0;  // face detector
  double landmarks = 0;  // crops + 68-landmark net
  double backbone = 0;   // aligned crops + feature extractor + expression head
};

struct AnalyzeOptions {
  DetectOptions detect;
  bool with_features = true;
  AnalyzeTimings* timings = nullptr;  // filled when not null
  // When set, these boxes (image pixels) stand in for the detector's: the
  // detector does not run and the rest of the pipeline takes them as it
  // takes detections (a FaceTracker's boxes carried over from the previous
  // frame of a stream).
  const std::vector<FaceDetection>* detections = nullptr;
};

// Output of the backbone + expression head for a batch of face crops.
struct BackboneOutput {
  int batch = 0;
  std::vector<float> probabilities;  // batch x labels().size(), row-major
  std::vector<float> features;       // batch x feature_dim(), row-major
};

// A face found by the pipeline's per-frame steps (detection, landmarks,
// alignment), before the backbone runs: `analysis` has everything but
// probabilities and features; `crop` is the aligned face crop (face-api's
// alignedRect clipped to the image) that the backbone takes.
struct LocatedFace {
  FaceAnalysis analysis;
  RgbImage crop;
};

// Sets each faces[k]'s probabilities (and its features when
// `with_features`) from row k of `out`, whose rows have `classes`
// probabilities and `feature_dim` features: how a backbone run on located
// faces' crops completes them.
void AttachBackboneOutput(const BackboneOutput& out, size_t classes, size_t feature_dim,
                          bool with_features, std::vector<FaceAnalysis>* faces);

// The face-api pipeline, identical to face-api's
// detectAllFaces(...).withFaceLandmarks().withFaceExpressions():
// detect -> crop each detection -> 68 landmarks -> aligned box from the
// landmarks -> crop -> 256-d features -> expression head (softmax).
// Thread-safe.
class FaceAnalyzer {
 public:
  static absl::StatusOr<std::unique_ptr<FaceAnalyzer>> Load(const FaceAnalyzerConfig& config);
  virtual ~FaceAnalyzer() = default;

  // All faces in the image, highest detector score first.
  virtual absl::StatusOr<std::vector<FaceAnalysis>> Analyze(const RgbImage& image,
                                                            const AnalyzeOptions& options) = 0;

  // Analyze split in two, so that the backbone step can run elsewhere (e.g.
  // batched with other frames' faces): the faces Analyze would report, in
  // its order, with their aligned crops. RunBackbone on the crops then gives
  // the probabilities and features Analyze would give (options.with_features
  // is not used here).
  virtual absl::StatusOr<std::vector<LocatedFace>> Locate(const RgbImage& image,
                                                          const AnalyzeOptions& options) = 0;

  // The backbone and head alone on face crops of any size (each padded to a
  // square and resized to input_size() as face-api does), as one batch.
  virtual absl::StatusOr<BackboneOutput> RunBackbone(const std::vector<RgbImage>& crops) = 0;

  // Expression head alone on feature vectors (batch x feature_dim()):
  // probabilities batch x labels().size(). Used after personalization.
  virtual absl::StatusOr<std::vector<float>> Classify(const std::vector<float>& features,
                                                      int batch) = 0;

  // The expression head's weights (what Classify applies before softmax),
  // for training personalization on top of the frozen model.
  virtual LinearLayerWeights ExpressionHead() const = 0;

  // Clip models (BackboneFaceAnalyzer with frames > 1) take clips of
  // clip_frames() face crops and answer a clip prediction every
  // clip_stride() frames of a stream; frame models say 1 and 1.
  virtual int clip_frames() const { return 1; }
  virtual int clip_stride() const { return 1; }

  // The backbone and head on clips of face crops, oldest frame first, one
  // output row per clip. A clip of fewer or more frames than clip_frames()
  // is resampled in time (a single crop is a one-frame clip, repeated).
  // Unimplemented for frame models.
  virtual absl::StatusOr<BackboneOutput> RunClips(const std::vector<std::vector<RgbImage>>& clips) {
    (void)clips;
    return absl::UnimplementedError("this backbone is a frame model; it takes no clips");
  }

  virtual const std::vector<std::string>& labels() const = 0;
  virtual int feature_dim() const = 0;
  virtual int input_size() const = 0;
  virtual std::string backbone_id() const = 0;
  virtual std::string detector_name() const = 0;
  virtual std::string device_name() const = 0;
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_FACE_ANALYZER_H_
