#include "lib/model/face_analyzer.h"

#include <utility>

#include "lib/model/face_analyzer_impl.h"
#include "lib/model/status_macros.h"

namespace fer {

absl::StatusOr<std::unique_ptr<FaceAnalyzer>> FaceAnalyzer::Load(const FaceAnalyzerConfig& config) {
  FER_ASSIGN_OR_RETURN(std::unique_ptr<FaceDetector> detector,
                       LoadFaceDetector(config.detector, config.model_dir, config.device));
  FER_ASSIGN_OR_RETURN(std::unique_ptr<FaceAnalyzerImpl> analyzer,
                       FaceAnalyzerImpl::Create(config, std::move(detector)));
  return std::unique_ptr<FaceAnalyzer>(std::move(analyzer));
}

void AttachBackboneOutput(const BackboneOutput& out, size_t classes, size_t feature_dim,
                          bool with_features, std::vector<FaceAnalysis>* faces) {
  for (size_t k = 0; k < faces->size(); ++k) {
    FaceAnalysis& face = (*faces)[k];
    face.probabilities.assign(out.probabilities.begin() + k * classes,
                              out.probabilities.begin() + (k + 1) * classes);
    if (with_features) {
      face.features.assign(out.features.begin() + k * feature_dim,
                           out.features.begin() + (k + 1) * feature_dim);
    }
  }
}

}  // namespace fer
