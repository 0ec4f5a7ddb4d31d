#include "lib/pft/translator_codec.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/files/byte_io.h"
#include "lib/model/status_macros.h"
#include "lib/pft/sealed_blob.h"

namespace fer::pft {
namespace {

constexpr size_t kHeaderSize = 16;
constexpr SealedFormat kFormat = {"FPFT", kTranslatorFormatVersion, "PFT translator blob",
                                  kHeaderSize + kSealedChecksumSize};
// Refuses absurd sizes before allocating: 64 Ki features, 64 Ki hidden units.
constexpr uint32_t kMaxSize = 1u << 16;

}  // namespace

std::string EncodeTranslator(const Translator& translator) {
  std::string out;
  out.reserve(kHeaderSize + 4 * static_cast<size_t>(translator.num_parameters()) +
              kSealedChecksumSize);
  StartSealedBlob(kFormat, &out);
  ByteWriter w(&out);
  w.U32(static_cast<uint32_t>(translator.dim()));
  w.U32(static_cast<uint32_t>(translator.hidden()));
  w.Floats(translator.w1());
  w.Floats(translator.b1());
  w.Floats(translator.w2());
  w.Floats(translator.b2());
  SealBlob(&out);
  return out;
}

absl::StatusOr<Translator> DecodeTranslator(const std::string& bytes) {
  FER_ASSIGN_OR_RETURN(ByteReader r, OpenSealedBlob(bytes, kFormat));
  const uint32_t dim = r.U32();
  const uint32_t hidden = r.U32();
  if (dim == 0 || hidden == 0 || dim > kMaxSize || hidden > kMaxSize) {
    return absl::DataLossError(
        absl::StrCat("translator blob has invalid sizes: dim ", dim, " hidden ", hidden));
  }
  const size_t matrix = static_cast<size_t>(dim) * hidden;
  const size_t expected = kHeaderSize + 4 * (2 * matrix + dim + hidden) + kSealedChecksumSize;
  if (bytes.size() != expected) {
    return absl::DataLossError(absl::StrCat("translator blob is ", bytes.size(),
                                            " bytes, expected ", expected, " for dim ", dim,
                                            " hidden ", hidden));
  }
  std::vector<float> w1 = r.Floats(matrix);
  std::vector<float> b1 = r.Floats(hidden);
  std::vector<float> w2 = r.Floats(matrix);
  std::vector<float> b2 = r.Floats(dim);
  return Translator::FromWeights(static_cast<int>(dim), static_cast<int>(hidden), std::move(w1),
                                 std::move(b1), std::move(w2), std::move(b2));
}

}  // namespace fer::pft
