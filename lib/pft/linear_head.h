#ifndef FERSERVE_LIB_PFT_LINEAR_HEAD_H_
#define FERSERVE_LIB_PFT_LINEAR_HEAD_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/model/face_types.h"

namespace fer::pft {

// The frozen expression classifier PFT trains the translator against:
// logits = W · x + b, probabilities = softmax(logits), with its class names.
// face-api's expression head is such a layer (FC 256 -> 7); tests build
// their own.
struct LinearHead {
  std::vector<std::string> labels;  // class names, logits order
  LinearLayerWeights layer;         // layer.classes == labels.size()

  int num_classes() const { return static_cast<int>(labels.size()); }
  int feature_dim() const { return layer.dim; }

  // OK when the sizes agree and there are at least two classes.
  absl::Status Validate() const;

  // Index of `label` in labels, NotFound when absent.
  absl::StatusOr<int> LabelIndex(const std::string& label) const;

  // softmax(W · x + b) for `batch` feature vectors (batch x feature_dim()):
  // batch x num_classes probabilities, row-major.
  absl::StatusOr<std::vector<float>> Probabilities(const std::vector<float>& features,
                                                   int batch) const;
};

// The head of a loaded model (FaceAnalyzer::ExpressionHead) with its class
// names; InvalidArgument when the sizes disagree.
absl::StatusOr<LinearHead> LinearHeadFromLayer(const LinearLayerWeights& layer,
                                               std::vector<std::string> labels);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_LINEAR_HEAD_H_
