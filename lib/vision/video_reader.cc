#include "lib/vision/video_reader.h"

#include <cstring>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "absl/strings/str_cat.h"

namespace fer {

absl::StatusOr<std::unique_ptr<VideoReader>> VideoReader::Open(const std::string& path) {
  std::unique_ptr<VideoReader> reader(new VideoReader());
  reader->capture_ = std::make_unique<cv::VideoCapture>(path);
  if (!reader->capture_->isOpened()) {
    return absl::NotFoundError(absl::StrCat("cannot open video ", path));
  }
  reader->fps_ = reader->capture_->get(cv::CAP_PROP_FPS);
  reader->frame_count_ = static_cast<int64_t>(reader->capture_->get(cv::CAP_PROP_FRAME_COUNT));
  return reader;
}

VideoReader::~VideoReader() = default;

absl::StatusOr<RgbImage> VideoReader::Next() {
  cv::Mat bgr;
  if (!capture_->read(bgr) || bgr.empty()) {
    return absl::OutOfRangeError("end of video");
  }
  ++position_;
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  RgbImage image;
  image.width = rgb.cols;
  image.height = rgb.rows;
  image.pixels.assign(rgb.data, rgb.data + rgb.total() * 3);
  return image;
}

bool VideoReader::Skip(int count) {
  for (int i = 0; i < count; ++i) {
    if (!capture_->grab()) return false;
    ++position_;
  }
  return true;
}

}  // namespace fer
