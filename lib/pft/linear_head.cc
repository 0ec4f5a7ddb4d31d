#include "lib/pft/linear_head.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/model/linear_softmax.h"
#include "lib/model/status_macros.h"

namespace fer::pft {

absl::Status LinearHead::Validate() const {
  if (num_classes() < 2 || layer.classes != num_classes()) {
    return absl::InvalidArgumentError(
        absl::StrCat("linear head needs 2+ labels, one per class of its layer, got ", num_classes(),
                     " labels for ", layer.classes, " classes"));
  }
  return CheckLinearLayer(layer);
}

absl::StatusOr<LinearHead> LinearHeadFromLayer(const LinearLayerWeights& layer,
                                               std::vector<std::string> labels) {
  LinearHead head{std::move(labels), layer};
  FER_RETURN_IF_ERROR(head.Validate());
  return head;
}

absl::StatusOr<int> LinearHead::LabelIndex(const std::string& label) const {
  for (int i = 0; i < num_classes(); ++i) {
    if (labels[i] == label) return i;
  }
  return absl::NotFoundError(absl::StrCat("label '", label, "' is not one of the head's"));
}

absl::StatusOr<std::vector<float>> LinearHead::Probabilities(const std::vector<float>& features,
                                                             int batch) const {
  FER_RETURN_IF_ERROR(Validate());
  return LinearSoftmax(layer, features, batch);
}

}  // namespace fer::pft
