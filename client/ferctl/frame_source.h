#ifndef FERSERVE_CLIENT_FERCTL_FRAME_SOURCE_H_
#define FERSERVE_CLIENT_FERCTL_FRAME_SOURCE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lib/vision/image.h"

namespace ferctl {

// One frame to send, with where it came from.
struct SourceFrame {
  fer::RgbImage image;
  int64_t timestamp_us = 0;  // presentation time in the video, or since the start
  std::string origin;        // "franck.mp4 @ 3.480 s", a file name, "camera 0 #12"
};

// Frames from --video (with --start, --end, --fps), --images or --camera,
// at most --frames of them.
class FrameSource {
 public:
  virtual ~FrameSource() = default;

  // Opens the source the flags name. InvalidArgument when none or several
  // are named or a bound is bad; NotFound when it cannot be opened.
  static absl::StatusOr<std::unique_ptr<FrameSource>> FromFlags();

  // The next frame; nullopt at the end. An error for an unreadable file.
  virtual absl::StatusOr<std::optional<SourceFrame>> Next() = 0;
  // Frames per second of what Next() yields (for writing video); 0 if none.
  virtual double fps() const = 0;
  // How many frames Next() will yield, or -1 when not known ahead.
  virtual int64_t expected_frames() const = 0;
  // Human-readable name, e.g. "franck.mp4 (0.0-20.0 s, 5 fps)".
  virtual std::string description() const = 0;
};

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_FRAME_SOURCE_H_
