#ifndef FERSERVE_LIB_STORE_PROFILE_CODEC_H_
#define FERSERVE_LIB_STORE_PROFILE_CODEC_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/store/profile.h"

namespace fer {

// Binary encoding of the records a profile is stored as. Every record is
//
//   "FERP" | u16 format version | u8 kind | u32 payload size | payload | u32 CRC-32C
//
// (little endian; the checksum covers everything before it). Decoding checks
// the magic, the format version, the kind, the sizes and the checksum, and
// fails with DataLoss ("profile record corrupt: ...") on any mismatch, or
// FailedPrecondition for a format version this build cannot read.
enum class ProfileRecordKind : uint8_t {
  kMeta = 1,        // Everything but the feature bank and the translator.
  kFeatures = 2,    // The feature bank.
  kTranslator = 3,  // One version of the translator weights.
};

inline constexpr uint16_t kProfileFormatVersion = 1;

// The meta record: `profile` without its bank's features and translator
// bytes, plus the translator version kept readable for replicas that are
// still loading it.
std::string EncodeProfileMeta(const Profile& profile, uint64_t previous_translator_version);
// Fills the meta fields of `profile` (bank dim and max_count included, not
// its features or translator bytes).
absl::Status DecodeProfileMeta(absl::string_view record, Profile* profile,
                               uint64_t* previous_translator_version);

std::string EncodeFeatureBank(const FeatureBank& bank);
absl::StatusOr<FeatureBank> DecodeFeatureBank(absl::string_view record);

std::string EncodeTranslator(uint64_t translator_version, absl::string_view weights);
// Fails unless the record holds `expected_version`.
absl::StatusOr<std::string> DecodeTranslator(absl::string_view record, uint64_t expected_version);

// CRC-32C (Castagnoli) of `data`.
uint32_t Crc32c(absl::string_view data);
// The table-driven CRC-32C, which Crc32c must always agree with.
uint32_t Crc32cPortableForTesting(absl::string_view data);

}  // namespace fer

#endif  // FERSERVE_LIB_STORE_PROFILE_CODEC_H_
