// libFuzzer target: stored profile records, as a store (or someone with
// write access to it) could hand them back: every decoder and the
// decryption must reject damage with an error, never crash or read past the
// record.
#include <cstdint>
#include <memory>
#include <string>

#include "lib/store/profile.h"
#include "lib/store/profile_codec.h"
#include "lib/store/record_cipher.h"

namespace {

void Check(absl::string_view record) {
  fer::Profile profile;
  uint64_t previous = 0;
  (void)fer::DecodeProfileMeta(record, &profile, &previous);
  (void)fer::DecodeFeatureBank(record);
  (void)fer::DecodeTranslator(record, 1);
  static const std::unique_ptr<fer::RecordCipher> cipher =
      *fer::RecordCipher::FromKey(std::string(32, 'k'), "fuzz");
  (void)cipher->Open(record, "fer/v1/t/u/meta");
  (void)fer::RecordCipher::SealedKeyId(record);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string record(reinterpret_cast<const char*>(data), size);
  Check(record);
  // The same bytes with a valid trailing CRC-32C, so that the decoders
  // behind the checksum are reached too.
  if (size >= 4) {
    const uint32_t crc = fer::Crc32c(absl::string_view(record).substr(0, size - 4));
    for (int i = 0; i < 4; ++i) record[size - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xFF);
    Check(record);
  }
  return 0;
}
