#include "lib/pft/translator_codec.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/pft/byte_io.h"

namespace fer::pft {
namespace {

constexpr char kMagic[4] = {'F', 'P', 'F', 'T'};
constexpr size_t kHeaderSize = 16;
constexpr size_t kChecksumSize = 4;
// Refuses absurd sizes before allocating: 64 Ki features, 64 Ki hidden units.
constexpr uint32_t kMaxSize = 1u << 16;

}  // namespace

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

std::string EncodeTranslator(const Translator& translator) {
  std::string out;
  out.reserve(kHeaderSize + 4 * static_cast<size_t>(translator.num_parameters()) + kChecksumSize);
  out.append(kMagic, sizeof(kMagic));
  ByteWriter w(&out);
  w.U32(kTranslatorFormatVersion);
  w.U32(static_cast<uint32_t>(translator.dim()));
  w.U32(static_cast<uint32_t>(translator.hidden()));
  w.Floats(translator.w1());
  w.Floats(translator.b1());
  w.Floats(translator.w2());
  w.Floats(translator.b2());
  w.U32(Crc32(out.data(), out.size()));
  return out;
}

absl::StatusOr<Translator> DecodeTranslator(const std::string& bytes) {
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError("not a PFT translator blob (bad magic)");
  }
  if (bytes.size() < kHeaderSize + kChecksumSize) {
    return absl::DataLossError(absl::StrCat("translator blob truncated: ", bytes.size(),
                                            " bytes, header needs ", kHeaderSize + kChecksumSize));
  }
  const size_t body = bytes.size() - kChecksumSize;
  const uint32_t stored = ByteReader(bytes, body).U32();
  const uint32_t computed = Crc32(bytes.data(), body);
  if (stored != computed) {
    return absl::DataLossError(
        absl::StrCat("translator blob corrupt or truncated: CRC-32 mismatch (stored ", stored,
                     ", computed ", computed, ")"));
  }
  ByteReader header(bytes, sizeof(kMagic));
  const uint32_t version = header.U32();
  if (version != kTranslatorFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("translator blob has format version ", version,
                                                   ", this build reads version ",
                                                   kTranslatorFormatVersion));
  }
  const uint32_t dim = header.U32();
  const uint32_t hidden = header.U32();
  if (dim == 0 || hidden == 0 || dim > kMaxSize || hidden > kMaxSize) {
    return absl::DataLossError(
        absl::StrCat("translator blob has invalid sizes: dim ", dim, " hidden ", hidden));
  }
  const size_t matrix = static_cast<size_t>(dim) * hidden;
  const size_t expected = kHeaderSize + 4 * (2 * matrix + dim + hidden) + kChecksumSize;
  if (bytes.size() != expected) {
    return absl::DataLossError(absl::StrCat("translator blob is ", bytes.size(),
                                            " bytes, expected ", expected, " for dim ", dim,
                                            " hidden ", hidden));
  }
  ByteReader body_reader(absl::string_view(bytes).substr(0, body), kHeaderSize);
  std::vector<float> w1 = body_reader.Floats(matrix);
  std::vector<float> b1 = body_reader.Floats(hidden);
  std::vector<float> w2 = body_reader.Floats(matrix);
  std::vector<float> b2 = body_reader.Floats(dim);
  return Translator::FromWeights(static_cast<int>(dim), static_cast<int>(hidden), std::move(w1),
                                 std::move(b1), std::move(w2), std::move(b2));
}

}  // namespace fer::pft
