#include "client/ferctl/prediction_table.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace ferctl {

std::string ModelName(const fer::v1::PredictResponse& answer) {
  if (answer.personalized()) return absl::StrFormat("personalized v%d", answer.profile_version());
  return "generic";
}

PredictionTable::PredictionTable(std::vector<std::string> labels, FILE* out)
    : labels_(std::move(labels)), out_(out) {}

void PredictionTable::PrintHeader() {
  std::string line = absl::StrFormat("%6s %8s %-10s %5s ", "frame", "time_s", "top", "p");
  for (const std::string& label : labels_) {
    absl::StrAppendFormat(&line, " %9s", label.substr(0, 9));
  }
  absl::StrAppendFormat(&line, "  %-16s %7s\n", "model", "ms");
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

void PredictionTable::Count(const fer::v1::PredictResponse& answer) {
  ++frames_;
  model_ = ModelName(answer);
  if (answer.faces().empty()) return;
  ++with_face_;
  ++top_counts_[answer.faces(0).top_label()];
}

void PredictionTable::PrintRow(double t_s, const fer::v1::PredictResponse& answer) {
  Count(answer);
  std::string line = absl::StrFormat("%6d %8.3f ", answer.frame_index(), t_s);
  if (answer.faces().empty()) {
    absl::StrAppendFormat(&line, "%-10s %5s ", "(no face)", "-");
    for (size_t i = 0; i < labels_.size(); ++i) absl::StrAppendFormat(&line, " %9s", "-");
  } else {
    const fer::v1::FacePrediction& face = answer.faces(0);
    absl::StrAppendFormat(&line, "%-10s %5.3f ", face.top_label(), face.top_probability());
    for (const std::string& label : labels_) {
      float p = 0;
      for (const fer::v1::ClassProbability& c : face.probabilities()) {
        if (c.label() == label) p = c.probability();
      }
      absl::StrAppendFormat(&line, " %9.3f", p);
    }
  }
  absl::StrAppendFormat(&line, "  %-16s %7.1f\n", ModelName(answer),
                        answer.server_latency_us() / 1000.0);
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

std::string PredictionTable::Summary() const {
  std::vector<std::pair<int, std::string>> ranked;
  for (const auto& [label, count] : top_counts_) ranked.emplace_back(-count, label);
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> parts;
  for (const auto& [negative, label] : ranked) {
    parts.push_back(absl::StrFormat("%s %.1f%%", label, -100.0 * negative / with_face_));
  }
  return absl::StrFormat("%d frames, %d with a face; %s: %s", frames_, with_face_,
                         model_.empty() ? "generic" : model_,
                         parts.empty() ? "no face" : absl::StrJoin(parts, ", "));
}

}  // namespace ferctl
