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

}  // namespace fer
