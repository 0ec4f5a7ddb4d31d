#ifndef FERSERVE_LIB_PFT_FEATURE_CACHE_H_
#define FERSERVE_LIB_PFT_FEATURE_CACHE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fer::pft {

// What the backbone says about the one face used from a dataset frame.
struct FaceSample {
  std::string subject;
  std::string label;
  int64_t frame_index = 0;       // 0 for an image, the frame's index in a video
  float time_s = 0;              // 0 for an image, the frame's time in a video
  std::vector<float> features;   // feature_dim values
  std::vector<float> landmarks;  // 68 x (x, y), image pixels
  std::vector<float> pose;       // yaw, pitch, roll in degrees (lib/pft/face_pose.h)
};

// The faces of one source file (an image or a video) and what identifies the
// version of the file and the settings they were extracted with.
struct SourceFaces {
  std::string path;       // relative to the dataset root
  int64_t file_size = 0;  // bytes
  int64_t mtime_ns = 0;   // last modification, file clock
  std::string sampling;   // labels, segments and frame rate the frames were chosen by
  int frames = 0;         // frames looked at
  int frames_without_face = 0;
  std::vector<FaceSample> faces;  // frames with a face, in frame order
};

// Extracted features of a dataset, keyed by the backbone that produced them.
struct FeatureCache {
  std::string backbone_id;
  int feature_dim = 0;
  std::vector<SourceFaces> sources;
};

// Binary format, version 1, little-endian: magic "FPFC", u32 version, then
// length-prefixed strings / u32 counts / f32 arrays (see the .cc), then a
// u32 CRC-32 of everything before it.
inline constexpr uint32_t kFeatureCacheFormatVersion = 1;

std::string EncodeFeatureCache(const FeatureCache& cache);

// InvalidArgument: not a feature cache or another version; DataLoss:
// truncated, checksum mismatch, or inconsistent sizes.
absl::StatusOr<FeatureCache> DecodeFeatureCache(absl::string_view bytes);

// Writes atomically (a temporary file renamed over `path`).
absl::Status WriteFeatureCacheFile(const FeatureCache& cache, const std::string& path);
// NotFound when the file does not exist; otherwise DecodeFeatureCache's errors.
absl::StatusOr<FeatureCache> ReadFeatureCacheFile(const std::string& path);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_FEATURE_CACHE_H_
