#ifndef FERSERVE_LIB_PFT_TRANSLATOR_CODEC_H_
#define FERSERVE_LIB_PFT_TRANSLATOR_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "lib/pft/translator.h"

namespace fer::pft {

// Translator weights as bytes, for the per-user profile store and model
// bundles. Format version 1, all integers and floats little-endian:
//
//   offset  size   field
//   0       4      magic "FPFT"
//   4       4      u32 format version (1)
//   8       4      u32 dim D
//   12      4      u32 hidden H
//   16      4·n    f32 weights: W1 [H,D], b1 [H], W2 [D,H], b2 [D] (row-major)
//   16+4n   4      u32 CRC-32 (IEEE, as zlib's crc32) of all preceding bytes
//
// The magic and the trailing checksum frame every version (sealed_blob.h), so
// a damaged blob is reported as such whatever its version field says.
inline constexpr uint32_t kTranslatorFormatVersion = 1;

// Serializes `translator` in the current format version.
std::string EncodeTranslator(const Translator& translator);

// Parses a blob written by EncodeTranslator. Errors:
//   InvalidArgument: not a translator blob (bad magic), or a format version
//     this build does not read;
//   DataLoss: truncated, checksum mismatch, or sizes inconsistent with D, H.
absl::StatusOr<Translator> DecodeTranslator(const std::string& bytes);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_TRANSLATOR_CODEC_H_
