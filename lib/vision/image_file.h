#ifndef FERSERVE_LIB_VISION_IMAGE_FILE_H_
#define FERSERVE_LIB_VISION_IMAGE_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/vision/image.h"

namespace fer {

// Reads a JPEG or PNG file (same checks as a client frame, no size limit
// beyond 16384 pixels per side).
absl::StatusOr<RgbImage> ReadImageFile(const std::string& path);

// Writes an image losslessly as PNG.
absl::Status WritePngFile(const RgbImage& image, const std::string& path);

// Encodes an image as JPEG (quality 0..100) or PNG bytes.
absl::StatusOr<std::string> EncodeJpeg(const RgbImage& image, int quality = 90);
absl::StatusOr<std::string> EncodePng(const RgbImage& image);

}  // namespace fer

#endif  // FERSERVE_LIB_VISION_IMAGE_FILE_H_
