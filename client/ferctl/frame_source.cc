#include "client/ferctl/frame_source.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "lib/vision/image_file.h"
#include "lib/vision/video_reader.h"

ABSL_FLAG(std::string, video, "", "Video file to read frames from.");
ABSL_FLAG(std::string, images, "", "Folder of JPEG/PNG images, taken in name order.");
ABSL_FLAG(int, camera, -1, "Camera device number to capture from (e.g. 0 for /dev/video0).");
ABSL_FLAG(double, start, 0, "Seconds into --video (or --camera) to start at.");
ABSL_FLAG(double, end, 0, "Seconds into --video (or --camera) to stop at; 0 means the end.");
ABSL_FLAG(double, fps, 0, "Frames per second to sample; 0 means every frame.");
ABSL_FLAG(int, frames, 0, "Take at most this many frames; 0 means no limit (camera: 100).");

namespace ferctl {
namespace {

constexpr int kDefaultCameraFrames = 100;

// Keeps a frame when its time reaches the next sampling slot.
class Sampler {
 public:
  Sampler(double start_s, double fps) : next_s_(start_s), period_s_(fps > 0 ? 1.0 / fps : 0) {}
  bool Keep(double t_s) {
    if (t_s + 1e-6 < next_s_) return false;
    next_s_ = period_s_ > 0 ? std::max(next_s_ + period_s_, t_s + period_s_ * 0.5) : t_s;
    return true;
  }

 private:
  double next_s_;
  double period_s_;
};

class VideoSource : public FrameSource {
 public:
  static absl::StatusOr<std::unique_ptr<FrameSource>> Open(const std::string& path, double start_s,
                                                           double end_s, double fps, int limit) {
    if (!std::filesystem::is_regular_file(path)) {
      return absl::NotFoundError("--video: no such file: " + path);
    }
    absl::StatusOr<std::unique_ptr<fer::VideoReader>> reader = fer::VideoReader::Open(path);
    if (!reader.ok())
      return absl::NotFoundError("--video: " + std::string(reader.status().message()));
    auto source = std::unique_ptr<VideoSource>(
        new VideoSource(path, std::move(*reader), start_s, end_s, fps, limit));
    const int64_t first = static_cast<int64_t>(std::llround(start_s * source->video_fps_));
    if (first > 0 && !source->reader_->Skip(static_cast<int>(first))) {
      return absl::InvalidArgumentError(
          absl::StrFormat("--start %.3f s is past the end of %s", start_s, path));
    }
    return std::unique_ptr<FrameSource>(std::move(source));
  }

  absl::StatusOr<std::optional<SourceFrame>> Next() override {
    if (limit_ > 0 && taken_ >= limit_) return std::nullopt;
    while (true) {
      const int64_t index = reader_->position();
      const double t_s = index / video_fps_;
      if (end_s_ > 0 && t_s >= end_s_) return std::nullopt;
      if (!sampler_.Keep(t_s)) {
        if (!reader_->Skip(1)) return std::nullopt;
        continue;
      }
      absl::StatusOr<fer::RgbImage> image = reader_->Next();
      if (!image.ok()) {
        if (absl::IsOutOfRange(image.status())) return std::nullopt;
        return image.status();
      }
      ++taken_;
      SourceFrame frame;
      frame.image = std::move(*image);
      frame.timestamp_us = static_cast<int64_t>(std::llround(t_s * 1e6));
      frame.origin = absl::StrFormat("%s @ %.3f s", name_, t_s);
      return frame;
    }
  }

  double fps() const override { return fps_ > 0 ? std::min(fps_, video_fps_) : video_fps_; }

  int64_t expected_frames() const override {
    const double length_s = reader_->frame_count() / video_fps_;
    const double end_s = end_s_ > 0 ? std::min(end_s_, length_s) : length_s;
    int64_t n = static_cast<int64_t>(std::ceil(std::max(0.0, end_s - start_s_) * fps() - 1e-6));
    if (limit_ > 0) n = std::min<int64_t>(n, limit_);
    return n;
  }

  std::string description() const override {
    return absl::StrFormat("%s (%.1f-%.1f s, %.4g fps)", name_, start_s_,
                           end_s_ > 0 ? end_s_ : reader_->frame_count() / video_fps_, fps());
  }

 private:
  VideoSource(const std::string& path, std::unique_ptr<fer::VideoReader> reader, double start_s,
              double end_s, double fps, int limit)
      : name_(std::filesystem::path(path).filename().string()),
        reader_(std::move(reader)),
        video_fps_(reader_->fps() > 0 ? reader_->fps() : 25.0),
        start_s_(start_s),
        end_s_(end_s),
        fps_(fps),
        limit_(limit),
        sampler_(start_s, fps) {}

  std::string name_;
  std::unique_ptr<fer::VideoReader> reader_;
  double video_fps_;
  double start_s_;
  double end_s_;
  double fps_;
  int limit_;
  int taken_ = 0;
  Sampler sampler_;
};

class ImageFolderSource : public FrameSource {
 public:
  static absl::StatusOr<std::unique_ptr<FrameSource>> Open(const std::string& dir, double fps,
                                                           int limit) {
    std::error_code error;
    if (!std::filesystem::is_directory(dir, error)) {
      return absl::NotFoundError("--images: no such folder: " + dir);
    }
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      const std::string ext = absl::AsciiStrToLower(entry.path().extension().string());
      if (entry.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) {
        files.push_back(entry.path().string());
      }
    }
    if (files.empty()) return absl::NotFoundError("--images: no .jpg or .png file in " + dir);
    std::sort(files.begin(), files.end());
    if (limit > 0 && static_cast<int>(files.size()) > limit) files.resize(limit);
    return std::unique_ptr<FrameSource>(new ImageFolderSource(dir, std::move(files), fps));
  }

  absl::StatusOr<std::optional<SourceFrame>> Next() override {
    if (next_ >= files_.size()) return std::nullopt;
    const std::string& path = files_[next_];
    absl::StatusOr<fer::RgbImage> image = fer::ReadImageFile(path);
    if (!image.ok()) return image.status();  // names the file
    SourceFrame frame;
    frame.image = std::move(*image);
    frame.timestamp_us = static_cast<int64_t>(std::llround(next_ * 1e6 / fps()));
    frame.origin = std::filesystem::path(path).filename().string();
    ++next_;
    return frame;
  }

  double fps() const override { return fps_ > 0 ? fps_ : 1.0; }
  int64_t expected_frames() const override { return static_cast<int64_t>(files_.size()); }
  std::string description() const override {
    return absl::StrFormat("%s (%d image%s)", dir_, files_.size(), files_.size() == 1 ? "" : "s");
  }

 private:
  ImageFolderSource(std::string dir, std::vector<std::string> files, double fps)
      : dir_(std::move(dir)), files_(std::move(files)), fps_(fps) {}

  std::string dir_;
  std::vector<std::string> files_;
  double fps_;
  size_t next_ = 0;
};

class CameraSource : public FrameSource {
 public:
  static absl::StatusOr<std::unique_ptr<FrameSource>> Open(int device, double start_s, double end_s,
                                                           double fps, int limit) {
    auto capture = std::make_unique<cv::VideoCapture>(device);
    if (!capture->isOpened()) {
      return absl::NotFoundError(absl::StrFormat("--camera: cannot open camera %d", device));
    }
    return std::unique_ptr<FrameSource>(new CameraSource(
        device, std::move(capture), start_s, end_s, fps, limit > 0 ? limit : kDefaultCameraFrames));
  }

  absl::StatusOr<std::optional<SourceFrame>> Next() override {
    while (taken_ < limit_) {
      cv::Mat bgr;
      if (!capture_->read(bgr) || bgr.empty()) {
        return absl::NotFoundError(absl::StrFormat("--camera %d: no frame", device_));
      }
      const double t_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      if (end_s_ > 0 && t_s >= end_s_) return std::nullopt;
      if (t_s < start_s_ || !sampler_.Keep(t_s)) continue;
      cv::Mat rgb;
      cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
      SourceFrame frame;
      frame.image.width = rgb.cols;
      frame.image.height = rgb.rows;
      frame.image.pixels.assign(rgb.data, rgb.data + rgb.total() * rgb.elemSize());
      frame.timestamp_us = static_cast<int64_t>(std::llround(t_s * 1e6));
      frame.origin = absl::StrFormat("camera %d #%d", device_, taken_);
      ++taken_;
      return frame;
    }
    return std::nullopt;
  }

  double fps() const override {
    const double camera_fps = capture_->get(cv::CAP_PROP_FPS);
    const double base = camera_fps > 0 ? camera_fps : 30.0;
    return fps_ > 0 ? std::min(fps_, base) : base;
  }
  int64_t expected_frames() const override { return limit_; }
  std::string description() const override {
    return absl::StrFormat("camera %d (%d frames)", device_, limit_);
  }

 private:
  CameraSource(int device, std::unique_ptr<cv::VideoCapture> capture, double start_s, double end_s,
               double fps, int limit)
      : device_(device),
        capture_(std::move(capture)),
        start_s_(start_s),
        end_s_(end_s),
        fps_(fps),
        limit_(limit),
        sampler_(start_s, fps),
        started_(std::chrono::steady_clock::now()) {}

  int device_;
  std::unique_ptr<cv::VideoCapture> capture_;
  double start_s_;
  double end_s_;
  double fps_;
  int limit_;
  int taken_ = 0;
  Sampler sampler_;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FrameSource>> FrameSource::FromFlags() {
  const std::string video = absl::GetFlag(FLAGS_video);
  const std::string images = absl::GetFlag(FLAGS_images);
  const int camera = absl::GetFlag(FLAGS_camera);
  const double start_s = absl::GetFlag(FLAGS_start);
  const double end_s = absl::GetFlag(FLAGS_end);
  const double fps = absl::GetFlag(FLAGS_fps);
  const int limit = absl::GetFlag(FLAGS_frames);
  const int named = !video.empty() + !images.empty() + (camera >= 0);
  if (named != 1) {
    return absl::InvalidArgumentError("give exactly one of --video, --images, --camera");
  }
  if (start_s < 0 || end_s < 0 || (end_s > 0 && end_s <= start_s)) {
    return absl::InvalidArgumentError("need 0 <= --start < --end (or --end 0 for the end)");
  }
  if (fps < 0 || limit < 0) return absl::InvalidArgumentError("--fps and --frames must be >= 0");
  if (!video.empty()) return VideoSource::Open(video, start_s, end_s, fps, limit);
  if (!images.empty()) return ImageFolderSource::Open(images, fps, limit);
  return CameraSource::Open(camera, start_s, end_s, fps, limit);
}

}  // namespace ferctl
