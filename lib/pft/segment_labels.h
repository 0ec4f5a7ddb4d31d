#ifndef FERSERVE_LIB_PFT_SEGMENT_LABELS_H_
#define FERSERVE_LIB_PFT_SEGMENT_LABELS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fer::pft {

// One labelled stretch of a video: frames with start_s <= t < end_s show
// `label`.
struct LabelledSegment {
  std::string video;  // as written in the CSV: a file name or a path under the dataset root
  double start_s = 0;
  double end_s = 0;
  std::string label;
  int line = 0;  // 1-based line of the CSV it came from
};

// Parses per-segment video labels:
//
//   # any line starting with '#' is a comment; blank lines are ignored
//   video,start_s,end_s,label
//   franck.mp4,0,12.5,neutral
//
// The header line (the first non-comment line) must name exactly these four
// columns in this order. Times are seconds, 0 <= start_s < end_s; segments of
// one video must not overlap. Errors are InvalidArgument and name the line.
absl::StatusOr<std::vector<LabelledSegment>> ParseSegmentLabels(absl::string_view csv);

// Reads and parses a CSV file (NotFound when it cannot be read).
absl::StatusOr<std::vector<LabelledSegment>> ReadSegmentLabelsFile(const std::string& path);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_SEGMENT_LABELS_H_
