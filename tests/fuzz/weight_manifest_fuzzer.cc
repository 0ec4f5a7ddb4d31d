// libFuzzer target: TensorFlow.js weights manifests and their .bin shards
// (the model files ferserve loads at start-up, possibly from a mounted
// volume). Input: the manifest's JSON, a NUL byte, then the bytes every
// shard path reads as. Damage must be an error, never a crash, undefined
// behaviour (e.g. converting an out-of-range quantized value) or a read past
// the shard.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "lib/model/weight_manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view manifest = input.substr(0, nul);
  const std::string bin(nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1));
  int64_t decoded = 0;
  const absl::Status status = fer::ReadWeightManifest(
      manifest, "fuzz.json", [&bin](const std::string&) { return bin; },
      [&decoded](const fer::WeightSpec& spec, const uint8_t* bytes) {
        // Exactly sized, so that ASan sees any write past the values.
        std::vector<unsigned char> out(static_cast<size_t>(spec.decoded_size()));
        fer::DecodeWeight(spec, bytes, out.data());
        decoded += spec.byte_size;
        return absl::OkStatus();
      });
  if (status.ok() && decoded % (bin.empty() ? 1 : static_cast<int64_t>(bin.size())) != 0) {
    __builtin_trap();  // every group must have used its shards exactly
  }
  return 0;
}
