#ifndef FERSERVE_CLIENT_FERCTL_TIMELINE_PLOT_H_
#define FERSERVE_CLIENT_FERCTL_TIMELINE_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fer/v1/expression_service.pb.h"

namespace ferctl {

// Per-class probabilities of one prediction run over time.
class Timeline {
 public:
  explicit Timeline(std::string title) : title_(std::move(title)) {}

  // Records the largest face's probabilities at the answer's time (a gap when
  // the frame has no face).
  void Add(double t_s, const fer::v1::PredictResponse& answer);
  void set_title(std::string title) { title_ = std::move(title); }

  const std::string& title() const { return title_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<double>& times() const { return times_; }
  // One row per time; empty where no face was found.
  const std::vector<std::vector<float>>& probabilities() const { return probabilities_; }

 private:
  std::string title_;
  std::vector<std::string> labels_;
  std::vector<double> times_;
  std::vector<std::vector<float>> probabilities_;
};

// Plot size: panels are stacked, one per timeline.
inline constexpr int kPlotWidth = 960;
inline constexpr int kPlotPanelHeight = 260;

// Draws one panel per timeline (one colored line per class, probability 0..1
// against seconds, shared time axis, legend on the right) and writes a PNG of
// kPlotWidth x (timelines * kPlotPanelHeight) pixels.
absl::Status WriteTimelinePlot(const std::vector<Timeline>& timelines, const std::string& path);

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_TIMELINE_PLOT_H_
