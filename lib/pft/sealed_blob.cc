#include "lib/pft/sealed_blob.h"

#include <zlib.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fer::pft {

void StartSealedBlob(const SealedFormat& format, std::string* out) {
  out->append(format.magic.data(), format.magic.size());
  ByteWriter(out).U32(format.version);
}

void SealBlob(std::string* out) { ByteWriter(out).U32(Crc32(out->data(), out->size())); }

absl::StatusOr<ByteReader> OpenSealedBlob(absl::string_view bytes, const SealedFormat& format) {
  if (!absl::StartsWith(bytes, format.magic)) {
    return absl::InvalidArgumentError(absl::StrCat("not a ", format.name, " (bad magic)"));
  }
  const size_t min_size = std::max(format.min_size, format.magic.size() + 4 + kSealedChecksumSize);
  if (bytes.size() < min_size) {
    return absl::DataLossError(absl::StrCat(format.name, " truncated: ", bytes.size(),
                                            " bytes, the smallest is ", min_size));
  }
  const size_t body = bytes.size() - kSealedChecksumSize;
  const uint32_t stored = ByteReader(bytes, body).U32();
  const uint32_t computed = Crc32(bytes.data(), body);
  if (stored != computed) {
    return absl::DataLossError(absl::StrCat(format.name,
                                            " corrupt or truncated: CRC-32 mismatch (stored ",
                                            stored, ", computed ", computed, ")"));
  }
  ByteReader reader(bytes.substr(0, body), format.magic.size());
  const uint32_t version = reader.U32();
  if (version != format.version) {
    return absl::InvalidArgumentError(absl::StrCat(format.name, " has format version ", version,
                                                   ", this build reads version ", format.version));
  }
  return reader;
}

uint32_t Crc32(const void* data, size_t size, uint32_t crc) {
  const auto* bytes = static_cast<const Bytef*>(data);
  // zlib's crc32 takes sizes as uInt: feed it in chunks.
  while (size > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = static_cast<uint32_t>(::crc32(crc, bytes, chunk));
    bytes += chunk;
    size -= chunk;
  }
  return crc;
}

}  // namespace fer::pft
