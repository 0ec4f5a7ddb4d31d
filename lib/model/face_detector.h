#ifndef FERSERVE_LIB_MODEL_FACE_DETECTOR_H_
#define FERSERVE_LIB_MODEL_FACE_DETECTOR_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_types.h"
#include "lib/vision/image.h"

namespace fer {

struct DetectOptions {
  float min_score = 0.5f;  // faces scoring below are dropped
  int max_results = 100;   // at most this many faces, best first
};

// Finds faces in an image. Implementations are the face-api detectors ported
// to LibTorch; they give the same boxes as face-api on the same pixels.
// Thread-safe: Detect may be called concurrently.
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;

  // Short name, e.g. "ssd_mobilenetv1" or "tiny_face_detector".
  virtual std::string name() const = 0;

  // Faces in image pixels, highest score first, after non-max suppression.
  virtual absl::StatusOr<std::vector<FaceDetection>> Detect(const RgbImage& image,
                                                            const DetectOptions& options) = 0;
};

// Loads a detector by name ("ssd_mobilenetv1" or "tiny_face_detector") from
// a face-api model directory (manifest JSON + .bin shards).
absl::StatusOr<std::unique_ptr<FaceDetector>> LoadFaceDetector(const std::string& name,
                                                               const std::string& model_dir,
                                                               const ModelDevice& device);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_FACE_DETECTOR_H_
