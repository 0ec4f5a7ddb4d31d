#include "lib/model/weight_manifest.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/model/status_macros.h"
#include "nlohmann/json.hpp"

namespace fer {
namespace {

using nlohmann::json;

// Bytes per stored element of a (possibly quantized) manifest dtype; 0 when
// unsupported.
int StoredElementSize(const std::string& dtype) {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "uint16" || dtype == "float16") return 2;
  if (dtype == "uint8" || dtype == "bool") return 1;
  return 0;
}

// Reads entry's "shape" into spec.shape and spec.numel.
absl::Status ParseShape(const json& entry, const std::string& label, WeightSpec* spec) {
  auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(label, " has no \"shape\" array"));
  }
  // Every extent is bounded, not just the product: a zero extent would let
  // the others grow without limit, and tensor libraries multiply them all.
  constexpr int64_t kMaxElements = std::numeric_limits<int64_t>::max() / 8;
  for (const json& d : *shape) {
    if (!d.is_number_integer() || (d.is_number_unsigned() && d.get<uint64_t>() > kMaxElements) ||
        d.get<int64_t>() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, " has an invalid shape ", shape->dump()));
    }
    const int64_t extent = d.get<int64_t>();
    if (extent > kMaxElements || (extent > 0 && spec->numel > kMaxElements / extent)) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, " has an absurd shape ", shape->dump()));
    }
    spec->shape.push_back(extent);
    spec->numel *= extent;
  }
  return absl::OkStatus();
}

// Reads entry's "dtype" into spec.dtype and spec.stored_dtype.
absl::Status ParseDtype(const json& entry, const std::string& label, WeightSpec* spec) {
  auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(label, " has no string \"dtype\""));
  }
  const std::string dtype_name = dtype->get<std::string>();
  if (dtype_name == "float32") {
    spec->dtype = WeightDtype::kFloat32;
  } else if (dtype_name == "int32") {
    spec->dtype = WeightDtype::kInt32;
  } else if (dtype_name == "bool") {
    spec->dtype = WeightDtype::kBool;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(label, " has unsupported dtype '", dtype_name, "'"));
  }
  spec->stored_dtype = dtype_name;
  return absl::OkStatus();
}

// Reads entry's optional "quantization" (after ParseDtype): the stored
// dtype, and for uint8 / uint16 the scale and min.
absl::Status ParseQuantization(const json& entry, const std::string& label, WeightSpec* spec) {
  auto quant = entry.find("quantization");
  if (quant == entry.end()) return absl::OkStatus();
  if (!quant->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(label, " has a non-object \"quantization\""));
  }
  auto qdtype = quant->find("dtype");
  if (qdtype == quant->end() || !qdtype->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(label, " has no quantization dtype"));
  }
  const std::string dtype_name = spec->stored_dtype;
  spec->stored_dtype = qdtype->get<std::string>();
  spec->quantized = true;
  if (spec->stored_dtype == "uint8" || spec->stored_dtype == "uint16") {
    auto scale = quant->find("scale");
    auto min = quant->find("min");
    if (scale == quant->end() || min == quant->end() || !scale->is_number() || !min->is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, " is quantized to ", spec->stored_dtype, " without scale and min"));
    }
    spec->scale = scale->get<double>();
    spec->min = min->get<double>();
    if (spec->dtype == WeightDtype::kBool) {
      return absl::InvalidArgumentError(absl::StrCat(label, " quantizes a bool tensor"));
    }
  } else if (spec->stored_dtype == "float16") {
    if (spec->dtype != WeightDtype::kFloat32) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, " is quantized to float16 but has dtype ", dtype_name));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(label, " has unknown quantization dtype '", spec->stored_dtype, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<WeightSpec> ParseWeightSpec(const json& entry, const std::string& where) {
  if (!entry.is_object())
    return absl::InvalidArgumentError(absl::StrCat(where, " is not an object"));
  WeightSpec spec;
  auto name = entry.find("name");
  if (name == entry.end() || !name->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no string \"name\""));
  }
  spec.name = name->get<std::string>();
  const std::string label = absl::StrCat(where, " ('", spec.name, "')");
  FER_RETURN_IF_ERROR(ParseShape(entry, label, &spec));
  FER_RETURN_IF_ERROR(ParseDtype(entry, label, &spec));
  FER_RETURN_IF_ERROR(ParseQuantization(entry, label, &spec));
  spec.byte_size = spec.numel * StoredElementSize(spec.stored_dtype);
  return spec;
}

}  // namespace

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

int32_t RoundToInt32LikeJs(double value) {
  if (!std::isfinite(value)) return 0;
  // Math.round: the nearest integer, ties towards +infinity. (x - floor(x)
  // is exact, unlike floor(x + 0.5).)
  double rounded = std::floor(value);
  if (value - rounded >= 0.5) rounded += 1;
  // ToInt32: modulo 2^32 into [-2^31, 2^31). fmod is exact and keeps the
  // value within (-2^32, 2^32), where the conversion to int64 is defined.
  const int64_t wrapped = static_cast<int64_t>(std::fmod(rounded, 4294967296.0));
  return static_cast<int32_t>(static_cast<uint32_t>(wrapped));
}

float HalfToFloat(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // zero or subnormal
  } else if (exponent == 0x1f) {
    magnitude = mantissa == 0 ? std::numeric_limits<float>::infinity()
                              : std::numeric_limits<float>::quiet_NaN();
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), static_cast<int>(exponent) - 25);
  }
  uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  bits |= sign;
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

void DecodeWeight(const WeightSpec& spec, const uint8_t* data, void* out) {
  const int64_t n = spec.numel;
  if (n == 0) return;
  if (spec.dtype == WeightDtype::kBool) {
    bool* values = static_cast<bool*>(out);
    for (int64_t i = 0; i < n; ++i) values[i] = data[i] != 0;
    return;
  }
  if (!spec.quantized) {
    std::memcpy(out, data, static_cast<size_t>(spec.byte_size));
    return;
  }
  if (spec.stored_dtype == "float16") {
    float* values = static_cast<float*>(out);
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, data + 2 * i, 2);
      values[i] = HalfToFloat(h);
    }
    return;
  }
  auto quantized = [&](int64_t i) -> double {
    if (spec.stored_dtype == "uint8") return data[i];
    uint16_t q;
    std::memcpy(&q, data + 2 * i, 2);
    return q;
  };
  if (spec.dtype == WeightDtype::kFloat32) {
    float* values = static_cast<float*>(out);
    for (int64_t i = 0; i < n; ++i) {
      // As tfjs: a double product and sum, stored as float32. The volatile
      // keeps the compiler from fusing them into one FMA (another rounding).
      volatile double scaled = quantized(i) * spec.scale;
      values[i] = static_cast<float>(scaled + spec.min);
    }
    return;
  }
  int32_t* values = static_cast<int32_t*>(out);
  for (int64_t i = 0; i < n; ++i) {
    volatile double scaled = quantized(i) * spec.scale;
    values[i] = RoundToInt32LikeJs(scaled + spec.min);
  }
}

absl::Status ReadWeightManifest(std::string_view text, const std::string& source,
                                const ShardReader& read_shard, const WeightVisitor& visit) {
  json manifest = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a valid JSON weights manifest"));
  }
  if (!manifest.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": a weights manifest must be a JSON array of groups"));
  }
  for (size_t g = 0; g < manifest.size(); ++g) {
    const json& group = manifest[g];
    const std::string group_label = absl::StrCat(source, ": group ", g);
    if (!group.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(group_label, " is not an object"));
    }
    auto paths = group.find("paths");
    auto weights = group.find("weights");
    if (paths == group.end() || !paths->is_array() || weights == group.end() ||
        !weights->is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(group_label, " needs \"paths\" and \"weights\" arrays"));
    }
    // The group's shards, concatenated.
    std::string bytes;
    std::vector<std::string> shard_names;
    for (const json& p : *paths) {
      if (!p.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(group_label, " has a non-string path"));
      }
      absl::StatusOr<std::string> data = read_shard(p.get<std::string>());
      if (!data.ok()) {
        return absl::Status(
            data.status().code(),
            absl::StrCat(data.status().message(), " (weights shard listed in ", source, ")"));
      }
      bytes += *data;
      shard_names.push_back(p.get<std::string>());
    }
    const std::string shards = absl::StrJoin(shard_names, " + ");
    int64_t offset = 0;
    for (size_t w = 0; w < weights->size(); ++w) {
      absl::StatusOr<WeightSpec> spec =
          ParseWeightSpec((*weights)[w], absl::StrCat(group_label, " weight ", w));
      if (!spec.ok()) return spec.status();
      // offset <= bytes.size(), so the subtraction cannot overflow.
      if (spec->byte_size > static_cast<int64_t>(bytes.size()) - offset) {
        return absl::DataLossError(absl::StrCat(
            shards, " is truncated: ", bytes.size(), " bytes, but tensor '", spec->name, "' ",
            ShapeString(spec->shape), " (", spec->stored_dtype, ") needs bytes [", offset, ", ",
            offset + spec->byte_size, ") (manifest ", source, ")"));
      }
      absl::Status visited = visit(*spec, reinterpret_cast<const uint8_t*>(bytes.data()) + offset);
      if (!visited.ok()) return visited;
      offset += spec->byte_size;
    }
    if (offset != static_cast<int64_t>(bytes.size())) {
      return absl::DataLossError(absl::StrCat(shards, " has ", bytes.size(),
                                              " bytes, but the tensors of ", source, " group ", g,
                                              " take ", offset));
    }
  }
  return absl::OkStatus();
}

}  // namespace fer
