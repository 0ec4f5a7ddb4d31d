#ifndef FERSERVE_CLIENT_FERCTL_FRAME_ANNOTATOR_H_
#define FERSERVE_CLIENT_FERCTL_FRAME_ANNOTATOR_H_

#include <memory>
#include <opencv2/core.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/ferctl/frame_source.h"
#include "fer/v1/expression_service.pb.h"

namespace cv {
class VideoWriter;
}

namespace ferctl {

// Width of the panel added to the right of each annotated frame.
inline constexpr int kAnnotationPanelWidth = 220;
// Annotated frames are at least this high, so that the panel fits.
inline constexpr int kAnnotationMinHeight = 240;

// The frame (BGR) with each face's box and landmarks drawn on it, and a panel
// on its right: "personalized vN" or "generic", the time, and one bar per
// class with the largest face's probabilities.
cv::Mat AnnotateFrame(const SourceFrame& frame, const fer::v1::PredictResponse& answer);

// Writes annotated frames to an MP4 file (MPEG-4 Part 2, OpenCV's FFmpeg
// backend). The first frame fixes the size.
class AnnotatedVideoWriter {
 public:
  AnnotatedVideoWriter(std::string path, double fps);
  ~AnnotatedVideoWriter();

  absl::Status Add(const SourceFrame& frame, const fer::v1::PredictResponse& answer);
  // Flushes and closes the file; the number of frames written.
  absl::StatusOr<int> Close();

 private:
  std::string path_;
  double fps_;
  std::unique_ptr<cv::VideoWriter> writer_;
  cv::Size size_;
  int frames_ = 0;
};

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_FRAME_ANNOTATOR_H_
