#ifndef FERSERVE_LIB_VISION_VIDEO_READER_H_
#define FERSERVE_LIB_VISION_VIDEO_READER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/vision/image.h"

namespace cv {
class VideoCapture;
}

namespace fer {

// Reads a video file frame by frame as RGB (OpenCV's FFmpeg backend).
class VideoReader {
 public:
  static absl::StatusOr<std::unique_ptr<VideoReader>> Open(const std::string& path);
  ~VideoReader();

  // The next frame, or OutOfRange at the end of the video.
  absl::StatusOr<RgbImage> Next();
  // Skips `count` frames without converting them; false at the end.
  bool Skip(int count);

  double fps() const { return fps_; }
  int64_t frame_count() const { return frame_count_; }
  // Index of the frame the next call to Next() returns.
  int64_t position() const { return position_; }

 private:
  VideoReader() = default;
  std::unique_ptr<cv::VideoCapture> capture_;
  double fps_ = 0;
  int64_t frame_count_ = 0;
  int64_t position_ = 0;
};

}  // namespace fer

#endif  // FERSERVE_LIB_VISION_VIDEO_READER_H_
