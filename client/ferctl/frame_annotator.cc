#include "client/ferctl/frame_annotator.h"

#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "absl/strings/str_format.h"
#include "client/ferctl/label_colors.h"
#include "client/ferctl/prediction_table.h"

namespace ferctl {
namespace {

const cv::Scalar kWhite(255, 255, 255);
const cv::Scalar kPanel(40, 40, 40);
const cv::Scalar kPersonalized(120, 220, 120);
const cv::Scalar kLandmark(255, 255, 0);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

void Text(cv::Mat& image, const std::string& text, cv::Point at, double scale,
          const cv::Scalar& color, int thickness = 1) {
  cv::putText(image, text, at, kFont, scale, color, thickness, cv::LINE_AA);
}

void DrawFaces(cv::Mat& canvas, const fer::v1::PredictResponse& answer) {
  for (const fer::v1::FacePrediction& face : answer.faces()) {
    const cv::Rect box(cvRound(face.box().x()), cvRound(face.box().y()),
                       cvRound(face.box().width()), cvRound(face.box().height()));
    const cv::Scalar color = LabelColor(face.top_label());
    cv::rectangle(canvas, box, color, 2, cv::LINE_AA);
    for (const fer::v1::Point& p : face.landmarks()) {
      cv::circle(canvas, cv::Point(cvRound(p.x()), cvRound(p.y())), 1, kLandmark, -1, cv::LINE_AA);
    }
    const std::string caption =
        absl::StrFormat("%s %.0f%%", face.top_label(), 100 * face.top_probability());
    int baseline = 0;
    const cv::Size size = cv::getTextSize(caption, kFont, 0.45, 1, &baseline);
    const int y = std::max(box.y - 4, size.height + 2);
    cv::rectangle(canvas, cv::Point(box.x, y - size.height - 3),
                  cv::Point(box.x + size.width + 4, y + 3), color, -1);
    Text(canvas, caption, cv::Point(box.x + 2, y), 0.45, cv::Scalar(0, 0, 0));
  }
}

void DrawPanel(cv::Mat& canvas, int x0, const SourceFrame& frame,
               const fer::v1::PredictResponse& answer) {
  cv::rectangle(canvas, cv::Rect(x0, 0, kAnnotationPanelWidth, canvas.rows), kPanel, -1);
  Text(canvas, ModelName(answer), cv::Point(x0 + 10, 24), 0.6,
       answer.personalized() ? kPersonalized : kWhite, answer.personalized() ? 2 : 1);
  Text(canvas,
       absl::StrFormat("t = %.2f s   frame %d", frame.timestamp_us / 1e6, answer.frame_index()),
       cv::Point(x0 + 10, 46), 0.4, kWhite);
  if (answer.faces().empty()) {
    Text(canvas, "no face", cv::Point(x0 + 10, 80), 0.55, kWhite);
    return;
  }
  const fer::v1::FacePrediction& face = answer.faces(0);
  const int bar_x = x0 + 82;
  const int bar_max = kAnnotationPanelWidth - 82 - 46;
  int y = 72;
  for (const fer::v1::ClassProbability& c : face.probabilities()) {
    const bool top = c.label() == face.top_label();
    Text(canvas, c.label(), cv::Point(x0 + 10, y + 11), 0.42, kWhite, top ? 2 : 1);
    const int length = std::max(1, cvRound(c.probability() * bar_max));
    cv::rectangle(canvas, cv::Rect(bar_x, y, length, 14), LabelColor(c.label()), -1);
    Text(canvas, absl::StrFormat("%.2f", c.probability()), cv::Point(bar_x + bar_max + 6, y + 11),
         0.4, kWhite);
    y += 22;
  }
}

}  // namespace

cv::Mat AnnotateFrame(const SourceFrame& frame, const fer::v1::PredictResponse& answer) {
  const int width = frame.image.width;
  const int height = frame.image.height;
  cv::Mat canvas(std::max(height, kAnnotationMinHeight), width + kAnnotationPanelWidth, CV_8UC3,
                 kPanel);
  cv::Mat rgb(height, width, CV_8UC3, const_cast<uint8_t*>(frame.image.pixels.data()));
  cv::Mat picture = canvas(cv::Rect(0, 0, width, height));
  cv::cvtColor(rgb, picture, cv::COLOR_RGB2BGR);
  DrawFaces(picture, answer);
  DrawPanel(canvas, width, frame, answer);
  return canvas;
}

AnnotatedVideoWriter::AnnotatedVideoWriter(std::string path, double fps)
    : path_(std::move(path)), fps_(fps > 0 ? fps : 25), writer_(new cv::VideoWriter) {}

AnnotatedVideoWriter::~AnnotatedVideoWriter() = default;

absl::Status AnnotatedVideoWriter::Add(const SourceFrame& frame,
                                       const fer::v1::PredictResponse& answer) {
  cv::Mat canvas = AnnotateFrame(frame, answer);
  if (!writer_->isOpened()) {
    size_ = canvas.size();
    if (!writer_->open(path_, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps_, size_)) {
      return absl::UnavailableError("--annotate: cannot write video " + path_);
    }
  }
  if (canvas.size() != size_) cv::resize(canvas, canvas, size_);
  writer_->write(canvas);
  ++frames_;
  return absl::OkStatus();
}

absl::StatusOr<int> AnnotatedVideoWriter::Close() {
  if (frames_ == 0) return absl::FailedPreconditionError("--annotate: no frame to write");
  writer_->release();
  return frames_;
}

}  // namespace ferctl
