// libFuzzer target: translator blobs (stored per user) and PFT model bundles
// (loaded at start-up): damage must be an error, never a crash, a huge
// allocation or a translator whose sizes disagree with its weights.
#include <cstdint>
#include <string>

#include "lib/pft/model_bundle_codec.h"
#include "lib/pft/sealed_blob.h"
#include "lib/pft/translator_codec.h"

namespace {

void Check(const std::string& bytes) {
  absl::StatusOr<fer::pft::Translator> translator = fer::pft::DecodeTranslator(bytes);
  if (translator.ok()) {
    const size_t matrix = static_cast<size_t>(translator->dim()) * translator->hidden();
    if (translator->w1().size() != matrix || translator->w2().size() != matrix) __builtin_trap();
    if (fer::pft::EncodeTranslator(*translator) != bytes) __builtin_trap();  // round trip
  }
  absl::StatusOr<fer::pft::ModelBundle> bundle = fer::pft::DecodeModelBundle(bytes);
  if (bundle.ok() && fer::pft::EncodeModelBundle(*bundle) != bytes) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  // The same bytes with a valid trailing CRC-32, so that the parsers behind
  // the checksum are reached too.
  if (size >= 4) {
    const uint32_t crc = fer::pft::Crc32(bytes.data(), size - 4);
    for (int i = 0; i < 4; ++i) bytes[size - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
    Check(bytes);
  }
  return 0;
}
