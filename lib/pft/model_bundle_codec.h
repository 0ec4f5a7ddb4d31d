#ifndef FERSERVE_LIB_PFT_MODEL_BUNDLE_CODEC_H_
#define FERSERVE_LIB_PFT_MODEL_BUNDLE_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/pft/model_bundle.h"

namespace fer::pft {

// A PFT model bundle as bytes (the file fer-train writes and ferserve's
// --pft_bundle reads). Format version 1, little-endian; strings are a u32
// length and the bytes:
//
//   magic "FPFB", u32 format version (1)
//   string backbone_id, u32 feature_dim, u32 neutral_index
//   u32 label count, then each label as a string
//   string translator (an FPFT blob, translator_codec.h)
//   source_neutral, source_neutral_translated: each u32 dim, u64 count,
//     f32 mean [dim], f32 covariance [dim, dim]
//   u32 training-config entry count, then (string key, string value) pairs
//   u32 CRC-32 (zlib's crc32) of all preceding bytes
inline constexpr uint32_t kModelBundleFormatVersion = 1;

std::string EncodeModelBundle(const ModelBundle& bundle);

// Parses and checks a bundle: the translator's dim, the statistics' dims and
// feature_dim agree and neutral_index names a label. Errors: InvalidArgument
// (not a bundle, or an unknown format version), DataLoss (truncated, checksum
// mismatch, inconsistent fields).
absl::StatusOr<ModelBundle> DecodeModelBundle(absl::string_view bytes);

// Writes the bundle to `path` atomically (a temporary file renamed over it).
absl::Status WriteModelBundleFile(const ModelBundle& bundle, const std::string& path);

// Reads a bundle file; NotFound when it does not exist, the decoder's errors
// prefixed with the path otherwise.
absl::StatusOr<ModelBundle> ReadModelBundleFile(const std::string& path);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_MODEL_BUNDLE_CODEC_H_
