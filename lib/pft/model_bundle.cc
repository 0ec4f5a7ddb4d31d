#include "lib/pft/model_bundle.h"

#include "absl/strings/str_cat.h"

namespace fer::pft {

absl::Status CheckBundleFitsBackbone(const ModelBundle& bundle, absl::string_view backbone_id,
                                     int feature_dim, const std::vector<std::string>& labels) {
  if (bundle.backbone_id != backbone_id || bundle.feature_dim != feature_dim ||
      bundle.labels != labels) {
    return absl::FailedPreconditionError(
        absl::StrCat("the PFT bundle was trained for backbone ", bundle.backbone_id, " (",
                     bundle.feature_dim, "-d, ", bundle.labels.size(), " labels), not ",
                     backbone_id, " (", feature_dim, "-d, ", labels.size(), " labels)"));
  }
  return absl::OkStatus();
}

}  // namespace fer::pft
