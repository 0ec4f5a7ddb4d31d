#include "lib/model/weight_map.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace fer {
namespace {

using nlohmann::json;

std::string ShapeString(c10::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape.vec(), ","), "]");
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  return std::move(bytes).str();
}

// Bytes per stored element of a (possibly quantized) manifest dtype; 0 when
// unsupported.
int StoredElementSize(const std::string& dtype) {
  if (dtype == "float32" || dtype == "int32") return 4;
  if (dtype == "uint16" || dtype == "float16") return 2;
  if (dtype == "uint8" || dtype == "bool") return 1;
  return 0;
}

// One manifest entry, validated.
struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numel = 1;
  std::string dtype;         // the decoded tensor's dtype
  std::string stored_dtype;  // dtype of the bytes in the shard
  bool quantized = false;
  double scale = 1.0;
  double min = 0.0;
  int64_t byte_size = 0;
};

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

  auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(label, " has no \"shape\" array"));
  }
  for (const json& d : *shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, " has an invalid shape ", shape->dump()));
    }
    const int64_t extent = d.get<int64_t>();
    if (extent > 0 && spec.numel > std::numeric_limits<int64_t>::max() / 8 / extent) {
      return absl::InvalidArgumentError(
          absl::StrCat(label, " has an absurd shape ", shape->dump()));
    }
    spec.shape.push_back(extent);
    spec.numel *= extent;
  }

  auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(label, " has no string \"dtype\""));
  }
  spec.dtype = dtype->get<std::string>();
  if (spec.dtype != "float32" && spec.dtype != "int32" && spec.dtype != "bool") {
    return absl::InvalidArgumentError(
        absl::StrCat(label, " has unsupported dtype '", spec.dtype, "'"));
  }
  spec.stored_dtype = spec.dtype;

  auto quant = entry.find("quantization");
  if (quant != entry.end()) {
    if (!quant->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(label, " has a non-object \"quantization\""));
    }
    auto qdtype = quant->find("dtype");
    if (qdtype == quant->end() || !qdtype->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(label, " has no quantization dtype"));
    }
    spec.stored_dtype = qdtype->get<std::string>();
    spec.quantized = true;
    if (spec.stored_dtype == "uint8" || spec.stored_dtype == "uint16") {
      auto scale = quant->find("scale");
      auto min = quant->find("min");
      if (scale == quant->end() || min == quant->end() || !scale->is_number() ||
          !min->is_number()) {
        return absl::InvalidArgumentError(
            absl::StrCat(label, " is quantized to ", spec.stored_dtype, " without scale and min"));
      }
      spec.scale = scale->get<double>();
      spec.min = min->get<double>();
      if (spec.dtype == "bool") {
        return absl::InvalidArgumentError(absl::StrCat(label, " quantizes a bool tensor"));
      }
    } else if (spec.stored_dtype == "float16") {
      if (spec.dtype != "float32") {
        return absl::InvalidArgumentError(
            absl::StrCat(label, " is quantized to float16 but has dtype ", spec.dtype));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(label, " has unknown quantization dtype '", spec.stored_dtype, "'"));
    }
  }
  spec.byte_size = spec.numel * StoredElementSize(spec.stored_dtype);
  return spec;
}

// Decodes `spec.byte_size` bytes at `data` into a new CPU tensor.
torch::Tensor DecodeWeight(const WeightSpec& spec, const uint8_t* data) {
  const auto n = spec.numel;
  if (spec.dtype == "bool") {
    torch::Tensor t = torch::empty(spec.shape, torch::kBool);
    bool* out = t.data_ptr<bool>();
    for (int64_t i = 0; i < n; ++i) out[i] = data[i] != 0;
    return t;
  }
  if (!spec.quantized) {
    torch::Tensor t =
        torch::empty(spec.shape, spec.dtype == "float32" ? torch::kFloat32 : torch::kInt32);
    if (n > 0) std::memcpy(t.data_ptr(), data, static_cast<size_t>(spec.byte_size));
    return t;
  }
  if (spec.stored_dtype == "float16") {
    torch::Tensor t = torch::empty(spec.shape, torch::kFloat32);
    float* out = t.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, data + 2 * i, 2);
      out[i] = HalfToFloat(h);
    }
    return t;
  }
  auto quantized = [&](int64_t i) -> double {
    if (spec.stored_dtype == "uint8") return data[i];
    uint16_t q;
    std::memcpy(&q, data + 2 * i, 2);
    return q;
  };
  if (spec.dtype == "float32") {
    torch::Tensor t = torch::empty(spec.shape, torch::kFloat32);
    float* out = t.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      // As tfjs: a double product and sum, stored as float32. The volatile
      // keeps the compiler from fusing them into one FMA (another rounding).
      volatile double scaled = quantized(i) * spec.scale;
      out[i] = static_cast<float>(scaled + spec.min);
    }
    return t;
  }
  torch::Tensor t = torch::empty(spec.shape, torch::kInt32);
  int32_t* out = t.data_ptr<int32_t>();
  for (int64_t i = 0; i < n; ++i) {
    volatile double scaled = quantized(i) * spec.scale;
    out[i] = static_cast<int32_t>(std::floor(scaled + spec.min + 0.5));  // Math.round
  }
  return t;
}

}  // namespace

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

absl::Status WeightMap::Insert(const std::string& name, torch::Tensor tensor) {
  if (!tensors_.emplace(name, std::move(tensor)).second) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": tensor '", name, "' appears more than once"));
  }
  order_.push_back(name);
  return absl::OkStatus();
}

const torch::Tensor* WeightMap::Find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

absl::StatusOr<torch::Tensor> WeightMap::Take(const std::string& name,
                                              const std::vector<int64_t>& expected_shape) {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat(source_, ": no tensor '", name, "'"));
  }
  const torch::Tensor& t = it->second;
  bool same = static_cast<size_t>(t.dim()) == expected_shape.size();
  for (size_t i = 0; same && i < expected_shape.size(); ++i) {
    same = expected_shape[i] < 0 || expected_shape[i] == t.size(static_cast<int64_t>(i));
  }
  if (!same) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": tensor '", name, "' has shape ",
                                                   ShapeString(t.sizes()), ", expected ",
                                                   ShapeString(expected_shape)));
  }
  taken_.insert(name);
  return t;
}

absl::StatusOr<torch::Tensor> WeightMap::TakeFloat(const std::string& name,
                                                   const std::vector<int64_t>& expected_shape) {
  absl::StatusOr<torch::Tensor> t = Take(name, expected_shape);
  if (t.ok() && t->scalar_type() != torch::kFloat32) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": tensor '", name, "' is not float32"));
  }
  return t;
}

std::vector<std::string> WeightMap::Unused() const {
  std::vector<std::string> unused;
  for (const std::string& name : order_) {
    if (taken_.count(name) == 0) unused.push_back(name);
  }
  return unused;
}

absl::Status WeightMap::CheckAllUsed() const {
  const std::vector<std::string> unused = Unused();
  if (unused.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ": unexpected tensors ", absl::StrJoin(unused, ", ")));
}

absl::StatusOr<WeightMap> LoadWeightMap(const std::string& manifest_path) {
  absl::StatusOr<std::string> text = ReadFile(manifest_path);
  if (!text.ok()) return text.status();
  json manifest = json::parse(*text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded()) {
    return absl::InvalidArgumentError(
        absl::StrCat(manifest_path, ": not a valid JSON weights manifest"));
  }
  if (!manifest.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(manifest_path, ": a weights manifest must be a JSON array of groups"));
  }
  const std::string dir = DirName(manifest_path);
  WeightMap map(manifest_path);
  for (size_t g = 0; g < manifest.size(); ++g) {
    const json& group = manifest[g];
    const std::string group_label = absl::StrCat(manifest_path, ": group ", g);
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
      const std::string shard = dir + "/" + p.get<std::string>();
      absl::StatusOr<std::string> data = ReadFile(shard);
      if (!data.ok()) {
        return absl::Status(data.status().code(),
                            absl::StrCat(data.status().message(), " (weights shard listed in ",
                                         manifest_path, ")"));
      }
      bytes += *data;
      shard_names.push_back(shard);
    }
    const std::string shards = absl::StrJoin(shard_names, " + ");
    int64_t offset = 0;
    for (size_t w = 0; w < weights->size(); ++w) {
      absl::StatusOr<WeightSpec> spec =
          ParseWeightSpec((*weights)[w], absl::StrCat(group_label, " weight ", w));
      if (!spec.ok()) return spec.status();
      if (offset + spec->byte_size > static_cast<int64_t>(bytes.size())) {
        return absl::DataLossError(absl::StrCat(
            shards, " is truncated: ", bytes.size(), " bytes, but tensor '", spec->name, "' ",
            ShapeString(spec->shape), " (", spec->stored_dtype, ") needs bytes [", offset, ", ",
            offset + spec->byte_size, ") (manifest ", manifest_path, ")"));
      }
      torch::Tensor tensor =
          DecodeWeight(*spec, reinterpret_cast<const uint8_t*>(bytes.data()) + offset);
      offset += spec->byte_size;
      absl::Status inserted = map.Insert(spec->name, std::move(tensor));
      if (!inserted.ok()) return inserted;
    }
    if (offset != static_cast<int64_t>(bytes.size())) {
      return absl::DataLossError(absl::StrCat(shards, " has ", bytes.size(),
                                              " bytes, but the tensors of ", manifest_path,
                                              " group ", g, " take ", offset));
    }
  }
  return map;
}

absl::StatusOr<WeightMap> LoadFaceApiWeights(const std::string& model_dir,
                                             const std::string& model_name) {
  return LoadWeightMap(model_dir + "/" + model_name + "-weights_manifest.json");
}

}  // namespace fer
