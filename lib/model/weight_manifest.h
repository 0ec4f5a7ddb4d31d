#ifndef FERSERVE_LIB_MODEL_WEIGHT_MANIFEST_H_
#define FERSERVE_LIB_MODEL_WEIGHT_MANIFEST_H_

// The TensorFlow.js weights manifest and its .bin shards, without LibTorch:
// parsing, validation and decoding into plain buffers. WeightMap
// (weight_map.h) wraps the decoded values in tensors; the fuzz target
// (tests/fuzz/weight_manifest_fuzzer.cc) drives this code alone.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fer {

// The dtype of a decoded tensor.
enum class WeightDtype { kFloat32, kInt32, kBool };

// One manifest entry, validated: numel * StoredElementSize fits in int64.
struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numel = 1;
  WeightDtype dtype = WeightDtype::kFloat32;  // of the decoded tensor
  std::string stored_dtype;                   // of the bytes in the shard
  bool quantized = false;
  double scale = 1.0;
  double min = 0.0;
  int64_t byte_size = 0;  // in the shard

  // Bytes of the decoded values: numel * (4, or 1 for bool).
  int64_t decoded_size() const { return numel * (dtype == WeightDtype::kBool ? 1 : 4); }
};

// "[2,3]".
std::string ShapeString(const std::vector<int64_t>& shape);

// Reads one shard, given its path as the manifest spells it.
using ShardReader = std::function<absl::StatusOr<std::string>(const std::string& path)>;
// Receives each weight in manifest order with its `spec.byte_size` stored
// bytes at `data`; an error stops the walk and is returned as is.
using WeightVisitor = std::function<absl::Status(const WeightSpec& spec, const uint8_t* data)>;

// Parses the manifest `text` (`source` names it in messages), reads each
// group's shards with `read_shard` and calls `visit` for every weight.
// InvalidArgument for a malformed manifest (bad JSON, unknown dtype, bad
// shape), DataLoss when a group's shards are shorter or longer than its
// tensors need; errors of `read_shard` get the manifest's name appended.
absl::Status ReadWeightManifest(std::string_view text, const std::string& source,
                                const ShardReader& read_shard, const WeightVisitor& visit);

// Decodes the `spec.byte_size` bytes at `data` into `spec.decoded_size()`
// bytes at `out` (float, int32_t or bool values), exactly as tfjs-core's
// io.decodeWeights:
//  * float32 / int32 / bool stored raw (little endian);
//  * quantized "uint8"/"uint16": value = q * scale + min, computed in double
//    and rounded to float32; int32 weights take Math.round of it, stored as
//    an Int32Array does (ECMAScript ToInt32: modulo 2^32, NaN and infinities
//    become 0);
//  * quantized "float16": IEEE half -> float32.
void DecodeWeight(const WeightSpec& spec, const uint8_t* data, void* out);

// ECMAScript's ToInt32 of Math.round(value): what tfjs stores in an
// Int32Array for a quantized int32 weight. Defined for every double.
int32_t RoundToInt32LikeJs(double value);

// IEEE 754 binary16 -> float32 (exact; as tfjs' float16 decoding).
float HalfToFloat(uint16_t half);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_WEIGHT_MANIFEST_H_
