#include "client/ferctl/timeline_plot.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_format.h"
#include "client/ferctl/label_colors.h"

namespace ferctl {
namespace {

constexpr int kLeft = 52;
constexpr int kRight = 120;
constexpr int kTop = 30;
constexpr int kBottom = 34;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
const cv::Scalar kInk(40, 40, 40);
const cv::Scalar kGrid(225, 225, 225);

// A tick spacing of 1, 2 or 5 times a power of ten giving about 8 ticks.
double TickStep(double span) {
  const double raw = std::max(span, 1e-3) / 8;
  const double power = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

void Text(cv::Mat& image, const std::string& text, cv::Point at, double scale,
          const cv::Scalar& color = kInk, int thickness = 1) {
  cv::putText(image, text, at, kFont, scale, color, thickness, cv::LINE_AA);
}

void DrawPanel(cv::Mat& panel, const Timeline& timeline, double t0, double t1) {
  const int w = panel.cols - kLeft - kRight;
  const int h = panel.rows - kTop - kBottom;
  const auto x_of = [&](double t) { return kLeft + cvRound((t - t0) / (t1 - t0) * w); };
  const auto y_of = [&](double p) { return kTop + cvRound((1 - p) * h); };

  Text(panel, timeline.title(), cv::Point(kLeft, 20), 0.55, kInk, 1);
  for (double p : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    cv::line(panel, cv::Point(kLeft, y_of(p)), cv::Point(kLeft + w, y_of(p)), kGrid, 1);
    Text(panel, absl::StrFormat("%.2f", p), cv::Point(8, y_of(p) + 4), 0.38);
  }
  const double step = TickStep(t1 - t0);
  for (double t = std::ceil(t0 / step) * step; t <= t1 + 1e-9; t += step) {
    cv::line(panel, cv::Point(x_of(t), kTop), cv::Point(x_of(t), kTop + h), kGrid, 1);
    Text(panel, absl::StrFormat("%g", std::round(t * 1000) / 1000),
         cv::Point(x_of(t) - 8, kTop + h + 16), 0.38);
  }
  Text(panel, "seconds", cv::Point(kLeft + w - 52, kTop + h + 30), 0.38);
  cv::rectangle(panel, cv::Rect(kLeft, kTop, w, h), kInk, 1);

  const auto& times = timeline.times();
  const auto& rows = timeline.probabilities();
  for (size_t c = 0; c < timeline.labels().size(); ++c) {
    const cv::Scalar color = LabelColor(timeline.labels()[c]);
    for (size_t i = 0; i < times.size(); ++i) {
      if (rows[i].size() <= c) continue;
      const cv::Point here(x_of(times[i]), y_of(rows[i][c]));
      if (i > 0 && rows[i - 1].size() > c) {
        cv::line(panel, cv::Point(x_of(times[i - 1]), y_of(rows[i - 1][c])), here, color, 2,
                 cv::LINE_AA);
      } else {
        cv::circle(panel, here, 1, color, -1, cv::LINE_AA);
      }
    }
    const int ly = kTop + 8 + static_cast<int>(c) * 20;
    cv::rectangle(panel, cv::Rect(kLeft + w + 12, ly, 14, 10), color, -1);
    Text(panel, timeline.labels()[c], cv::Point(kLeft + w + 32, ly + 10), 0.42);
  }
}

}  // namespace

void Timeline::Add(double t_s, const fer::v1::PredictResponse& answer) {
  times_.push_back(t_s);
  probabilities_.emplace_back();
  if (answer.faces().empty()) return;
  const fer::v1::FacePrediction& face = answer.faces(0);
  if (labels_.empty()) {
    for (const fer::v1::ClassProbability& c : face.probabilities()) labels_.push_back(c.label());
  }
  for (const fer::v1::ClassProbability& c : face.probabilities()) {
    probabilities_.back().push_back(c.probability());
  }
}

absl::Status WriteTimelinePlot(const std::vector<Timeline>& timelines, const std::string& path) {
  double t0 = 1e300, t1 = -1e300;
  for (const Timeline& timeline : timelines) {
    for (double t : timeline.times()) {
      t0 = std::min(t0, t);
      t1 = std::max(t1, t);
    }
  }
  if (t0 > t1) return absl::FailedPreconditionError("--plot: no frame to plot");
  if (t1 - t0 < 1e-3) t1 = t0 + 1;
  cv::Mat plot(static_cast<int>(timelines.size()) * kPlotPanelHeight, kPlotWidth, CV_8UC3,
               cv::Scalar(255, 255, 255));
  for (size_t i = 0; i < timelines.size(); ++i) {
    cv::Mat panel =
        plot(cv::Rect(0, static_cast<int>(i) * kPlotPanelHeight, kPlotWidth, kPlotPanelHeight));
    DrawPanel(panel, timelines[i], t0, t1);
  }
  try {
    if (cv::imwrite(path, plot)) return absl::OkStatus();
  } catch (const cv::Exception& e) {
    return absl::UnavailableError("--plot: cannot write " + path + ": " + e.what());
  }
  return absl::UnavailableError("--plot: cannot write " + path);
}

}  // namespace ferctl
