#include "lib/pft/source_subject.h"

#include "absl/strings/str_cat.h"

namespace fer::pft {

absl::Status SourceSubject::Validate(int dim, int num_classes) const {
  const size_t n = count > 0 ? static_cast<size_t>(count) : 0;
  if (count <= 0 || features.size() != n * dim || labels.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject '", id, "': needs count > 0 and ", count, " x ", dim,
                     " features with as many labels; got ", features.size(), " floats and ",
                     labels.size(), " labels"));
  }
  for (int label : labels) {
    if (label < 0 || label >= num_classes) {
      return absl::InvalidArgumentError(
          absl::StrCat("subject '", id, "': label ", label, " outside [0, ", num_classes, ")"));
    }
  }
  if (!landmarks.empty() && landmarks.size() != n * kNumLandmarks * 2) {
    return absl::InvalidArgumentError(absl::StrCat("subject '", id, "': landmarks must be ", count,
                                                   " x 68 x 2 floats, got ", landmarks.size()));
  }
  if (!pose.empty() && pose.size() != n * 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject '", id, "': pose must be ", count, " x 3 floats, got ", pose.size()));
  }
  return absl::OkStatus();
}

}  // namespace fer::pft
