#ifndef FERSERVE_LIB_MODEL_BACKBONE_FACE_ANALYZER_H_
#define FERSERVE_LIB_MODEL_BACKBONE_FACE_ANALYZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_analyzer.h"
#include "lib/model/face_analyzer_impl.h"
#include "lib/model/torchscript_backbone.h"

namespace fer {

// A FaceAnalyzer whose backbone is a TorchScript frame or clip model
// (--backbone_model): the embedded face-api detector and 68-landmark net
// find and align the faces, the model turns the aligned crops into
// features and probabilities. Analyze serves each face as a one-frame clip
// (repeated to the model's frames, or as an image for image_input native);
// RunClips runs whole clips. The frozen head for personalization is the
// model's linear classifier named in its config. Thread-safe.
class BackboneFaceAnalyzer final : public FaceAnalyzer {
 public:
  // Loads the detector and landmark net from `base` (model_dir, detector,
  // device) and the model described by the config file `config_path` on
  // base.device.
  static absl::StatusOr<std::unique_ptr<BackboneFaceAnalyzer>> Load(const FaceAnalyzerConfig& base,
                                                                    const std::string& config_path);

  BackboneFaceAnalyzer(std::unique_ptr<FaceAnalyzerImpl> locator,
                       std::unique_ptr<TorchScriptBackbone> backbone);

  absl::StatusOr<std::vector<FaceAnalysis>> Analyze(const RgbImage& image,
                                                    const AnalyzeOptions& options) override;
  absl::StatusOr<std::vector<LocatedFace>> Locate(const RgbImage& image,
                                                  const AnalyzeOptions& options) override;
  absl::StatusOr<BackboneOutput> RunBackbone(const std::vector<RgbImage>& crops) override;
  absl::StatusOr<BackboneOutput> RunClips(const std::vector<std::vector<RgbImage>>& clips) override;
  absl::StatusOr<std::vector<float>> Classify(const std::vector<float>& features,
                                              int batch) override;
  LinearLayerWeights ExpressionHead() const override { return backbone_->head(); }

  int clip_frames() const override { return backbone_->config().frames; }
  int clip_stride() const override { return backbone_->config().stride; }
  const std::vector<std::string>& labels() const override { return backbone_->config().labels; }
  int feature_dim() const override { return backbone_->config().feature_dim; }
  int input_size() const override { return backbone_->config().input_size; }
  std::string backbone_id() const override { return backbone_->config().name; }
  std::string detector_name() const override { return locator_->detector_name(); }
  std::string device_name() const override { return backbone_->device_name(); }

  const TorchScriptBackbone& backbone() const { return *backbone_; }

 private:
  std::unique_ptr<FaceAnalyzerImpl> locator_;  // detection + landmarks
  std::unique_ptr<TorchScriptBackbone> backbone_;
};

// The pixels of a face's aligned box (FaceAnalysis::aligned_box) as
// face-api crops it (clipped to the image, floored); empty when nothing of
// the box lies in the image.
RgbImage CropFace(const RgbImage& image, const Box& aligned_box);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_BACKBONE_FACE_ANALYZER_H_
