#include "lib/pft/linear_head.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/model/linear_softmax.h"
#include "lib/model/status_macros.h"

namespace fer::pft {

absl::Status LinearHead::Validate() const {
  if (feature_dim() <= 0 || num_classes() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("linear head needs feature_dim > 0 and 2+ labels, got ", feature_dim(),
                     " and ", num_classes()));
  }
  if (layer.classes != num_classes() ||
      layer.weight.size() != static_cast<size_t>(num_classes()) * feature_dim() ||
      layer.bias.size() != static_cast<size_t>(num_classes())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "linear head weights do not match ", num_classes(), " x ", feature_dim(), ": ",
        layer.classes, " classes, weight ", layer.weight.size(), ", bias ", layer.bias.size()));
  }
  return absl::OkStatus();
}

absl::StatusOr<LinearHead> LinearHeadFromLayer(const LinearLayerWeights& layer,
                                               std::vector<std::string> labels) {
  if (layer.classes != static_cast<int>(labels.size())) {
    return absl::InvalidArgumentError(absl::StrCat("head has ", layer.classes, " classes but ",
                                                   labels.size(), " labels were given"));
  }
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
