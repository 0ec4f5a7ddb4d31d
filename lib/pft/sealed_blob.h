#ifndef FERSERVE_LIB_PFT_SEALED_BLOB_H_
#define FERSERVE_LIB_PFT_SEALED_BLOB_H_

// The framing lib/pft's formats (translator blobs, model bundles, feature
// caches) share: a 4-byte magic, a u32 format version, the format's fields,
// then a u32 CRC-32 of all preceding bytes. The magic and the checksum frame
// every version, so a damaged blob is reported as such whatever its version
// field says.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/files/byte_io.h"

namespace fer::pft {

struct SealedFormat {
  absl::string_view magic;  // 4 bytes
  uint32_t version = 0;     // the version this build writes and reads
  absl::string_view name;   // in messages: "not a <name>", "<name> truncated"
  // The smallest valid blob, framing included; the framing alone (magic,
  // version, checksum) is the floor.
  size_t min_size = 0;
};

// Bytes of the trailing CRC-32.
inline constexpr size_t kSealedChecksumSize = 4;

// Starts a blob: the magic and the format version.
void StartSealedBlob(const SealedFormat& format, std::string* out);

// Ends a blob: appends the CRC-32 of everything before.
void SealBlob(std::string* out);

// Checks the framing of `bytes`: InvalidArgument for another magic or
// format version, DataLoss below the format's size or for a checksum
// mismatch. Returns a reader of the fields after the version, ending
// before the checksum (it refers to `bytes`).
absl::StatusOr<ByteReader> OpenSealedBlob(absl::string_view bytes, const SealedFormat& format);

// CRC-32 (IEEE 802.3 polynomial, reflected; zlib's crc32) of `size` bytes,
// continuing from `crc` (0 to start).
uint32_t Crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_SEALED_BLOB_H_
