#include "lib/pft/segment_labels.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/files/file_contents.h"
#include "lib/model/status_macros.h"

namespace fer::pft {
namespace {

constexpr const char* kColumns[] = {"video", "start_s", "end_s", "label"};

absl::Status LineError(int line, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat("segment labels line ", line, ": ", message));
}

}  // namespace

absl::StatusOr<std::vector<LabelledSegment>> ParseSegmentLabels(absl::string_view csv) {
  std::vector<LabelledSegment> segments;
  bool header_seen = false;
  int line_number = 0;
  for (absl::string_view raw : absl::StrSplit(csv, '\n')) {
    ++line_number;
    const absl::string_view line = absl::StripAsciiWhitespace(raw);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    for (absl::string_view field : absl::StrSplit(line, ',')) {
      fields.emplace_back(absl::StripAsciiWhitespace(field));
    }
    if (!header_seen) {
      const std::vector<std::string> expected(std::begin(kColumns), std::end(kColumns));
      if (fields != expected) {
        return LineError(line_number,
                         absl::StrCat("expected the header \"", absl::StrJoin(expected, ","),
                                      "\", got \"", line, "\""));
      }
      header_seen = true;
      continue;
    }
    if (fields.size() != 4) {
      return LineError(line_number,
                       absl::StrFormat("expected 4 comma-separated fields, got %d", fields.size()));
    }
    LabelledSegment segment;
    segment.line = line_number;
    segment.video = fields[0];
    segment.label = fields[3];
    if (segment.video.empty()) return LineError(line_number, "empty video name");
    if (segment.label.empty()) return LineError(line_number, "empty label");
    if (!absl::SimpleAtod(fields[1], &segment.start_s)) {
      return LineError(line_number, absl::StrCat("start_s \"", fields[1], "\" is not a number"));
    }
    if (!absl::SimpleAtod(fields[2], &segment.end_s)) {
      return LineError(line_number, absl::StrCat("end_s \"", fields[2], "\" is not a number"));
    }
    if (!(segment.start_s >= 0) || !(segment.end_s > segment.start_s)) {
      return LineError(line_number, absl::StrFormat("need 0 <= start_s < end_s, got %g .. %g",
                                                    segment.start_s, segment.end_s));
    }
    segments.push_back(std::move(segment));
  }
  if (!header_seen) {
    return absl::InvalidArgumentError(
        "segment labels: no header line \"video,start_s,end_s,label\" found");
  }
  // Overlaps within one video, in time order.
  std::map<std::string, std::vector<const LabelledSegment*>> by_video;
  for (const LabelledSegment& s : segments) by_video[s.video].push_back(&s);
  for (auto& [video, list] : by_video) {
    std::sort(list.begin(), list.end(), [](const LabelledSegment* a, const LabelledSegment* b) {
      return a->start_s < b->start_s;
    });
    for (size_t i = 1; i < list.size(); ++i) {
      if (list[i]->start_s < list[i - 1]->end_s) {
        return LineError(list[i]->line,
                         absl::StrFormat("segment %g .. %g of %s overlaps line %d (%g .. %g)",
                                         list[i]->start_s, list[i]->end_s, video, list[i - 1]->line,
                                         list[i - 1]->start_s, list[i - 1]->end_s));
      }
    }
  }
  return segments;
}

absl::StatusOr<std::vector<LabelledSegment>> ReadSegmentLabelsFile(const std::string& path) {
  FER_ASSIGN_OR_RETURN(const std::string text, ReadFileContents(path, "segment labels"));
  absl::StatusOr<std::vector<LabelledSegment>> segments = ParseSegmentLabels(text);
  if (!segments.ok()) {
    return absl::Status(segments.status().code(),
                        absl::StrCat(path, ": ", segments.status().message()));
  }
  return segments;
}

}  // namespace fer::pft
