#include "lib/vision/image_file.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/files/file_contents.h"
#include "lib/vision/frame_decoder.h"

namespace fer {
namespace {

cv::Mat ToBgr(const RgbImage& image) {
  const cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return bgr;
}

absl::StatusOr<std::string> Encode(const RgbImage& image, const std::string& ext,
                                   const std::vector<int>& params) {
  if (image.empty()) return absl::InvalidArgumentError("cannot encode an empty image");
  std::vector<uchar> out;
  if (!cv::imencode(ext, ToBgr(image), out, params)) {
    return absl::InternalError(absl::StrCat("could not encode ", ext));
  }
  return std::string(out.begin(), out.end());
}

}  // namespace

absl::StatusOr<RgbImage> ReadImageFile(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileContents(path);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<RgbImage> image = DecodeEncodedFrame(*bytes, FrameLimits{16384});
  if (!image.ok()) {
    return absl::Status(image.status().code(), absl::StrCat(path, ": ", image.status().message()));
  }
  return image;
}

absl::Status WritePngFile(const RgbImage& image, const std::string& path) {
  absl::StatusOr<std::string> png = EncodePng(image);
  if (!png.ok()) return png.status();
  return WriteFileAtomically(path, *png);
}

absl::StatusOr<std::string> EncodeJpeg(const RgbImage& image, int quality) {
  return Encode(image, ".jpg", {cv::IMWRITE_JPEG_QUALITY, quality});
}

absl::StatusOr<std::string> EncodePng(const RgbImage& image) {
  return Encode(image, ".png", {cv::IMWRITE_PNG_COMPRESSION, 1});
}

}  // namespace fer
