#include "lib/model/backbone_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace fer {
namespace {

using nlohmann::json;

constexpr int kMaxInputSize = 1024;
constexpr int kMaxFrames = 256;
constexpr int kMaxFeatureDim = 65536;

absl::Status FieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("model config field \"", field, "\": ", what));
}

absl::StatusOr<std::string> RequiredString(const json& config, const char* field) {
  if (!config.contains(field)) return FieldError(field, "missing");
  const json& value = config.at(field);
  if (!value.is_string() || value.get<std::string>().empty()) {
    return FieldError(field, "must be a non-empty string");
  }
  return value.get<std::string>();
}

absl::StatusOr<int> IntInRange(const json& config, const char* field, int min, int max,
                               bool required, int fallback) {
  if (!config.contains(field)) {
    if (required) return FieldError(field, "missing");
    return fallback;
  }
  const json& value = config.at(field);
  if (!value.is_number_integer() || value.get<int64_t>() < min || value.get<int64_t>() > max) {
    return FieldError(field, absl::StrCat("must be an integer in [", min, ", ", max, "]"));
  }
  return static_cast<int>(value.get<int64_t>());
}

absl::StatusOr<std::array<float, 3>> RgbTriple(const json& config, const char* field,
                                               std::array<float, 3> fallback, bool positive) {
  if (!config.contains(field)) return fallback;
  const json& value = config.at(field);
  if (!value.is_array() || value.size() != 3) {
    return FieldError(field, "must be an array of 3 numbers (R, G, B)");
  }
  std::array<float, 3> out;
  for (int c = 0; c < 3; ++c) {
    if (!value[c].is_number()) return FieldError(field, "must be an array of 3 numbers (R, G, B)");
    out[c] = value[c].get<float>();
    if (!std::isfinite(out[c]) || (positive && !(out[c] > 0))) {
      return FieldError(field, positive ? "values must be positive" : "values must be finite");
    }
  }
  return out;
}

absl::StatusOr<OutputRef> ParseOutputRef(const json& value, const std::string& field) {
  OutputRef ref;
  if (value.is_string() && !value.get<std::string>().empty()) {
    ref.name = value.get<std::string>();
  } else if (value.is_number_integer() && value.get<int64_t>() >= 0 && value.get<int64_t>() < 64) {
    ref.index = static_cast<int>(value.get<int64_t>());
  } else {
    return FieldError(field, "must be a dict key (string) or a tuple index (integer >= 0)");
  }
  return ref;
}

}  // namespace

absl::StatusOr<BackboneConfig> ParseBackboneConfig(absl::string_view text,
                                                   const std::string& base_dir) {
  const json config = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return absl::InvalidArgumentError("model config is not valid JSON");
  if (!config.is_object()) return absl::InvalidArgumentError("model config must be a JSON object");

  BackboneConfig c;
  if (absl::StatusOr<std::string> name = RequiredString(config, "name"); name.ok()) {
    c.name = *std::move(name);
  } else {
    return name.status();
  }
  absl::StatusOr<std::string> model_file = RequiredString(config, "model_file");
  if (!model_file.ok()) return model_file.status();
  const std::filesystem::path file(*model_file);
  c.model_path = file.is_absolute() || base_dir.empty()
                     ? file.string()
                     : (std::filesystem::path(base_dir) / file).string();

  absl::StatusOr<int> input_size = IntInRange(config, "input_size", 8, kMaxInputSize, true, 0);
  if (!input_size.ok()) return input_size.status();
  c.input_size = *input_size;
  absl::StatusOr<int> frames = IntInRange(config, "frames", 1, kMaxFrames, true, 1);
  if (!frames.ok()) return frames.status();
  c.frames = *frames;
  absl::StatusOr<int> stride = IntInRange(config, "stride", 1, kMaxFrames, false, c.frames);
  if (!stride.ok()) return stride.status();
  c.stride = *stride;

  if (config.contains("image_input")) {
    const json& value = config.at("image_input");
    if (value == "repeat") {
      c.image_input = ImageInput::kRepeat;
    } else if (value == "native") {
      c.image_input = ImageInput::kNative;
    } else {
      return FieldError("image_input", "must be \"repeat\" or \"native\"");
    }
  }
  absl::StatusOr<std::array<float, 3>> mean = RgbTriple(config, "mean", c.mean, false);
  if (!mean.ok()) return mean.status();
  c.mean = *mean;
  absl::StatusOr<std::array<float, 3>> std_dev = RgbTriple(config, "std", c.std, true);
  if (!std_dev.ok()) return std_dev.status();
  c.std = *std_dev;

  absl::StatusOr<int> dim = IntInRange(config, "feature_dim", 1, kMaxFeatureDim, true, 0);
  if (!dim.ok()) return dim.status();
  c.feature_dim = *dim;

  if (!config.contains("labels")) return FieldError("labels", "missing");
  const json& labels = config.at("labels");
  if (!labels.is_array() || labels.size() < 2) {
    return FieldError("labels", "must be an array of at least 2 class names");
  }
  std::set<std::string> seen;
  for (const json& label : labels) {
    if (!label.is_string() || label.get<std::string>().empty()) {
      return FieldError("labels", "every label must be a non-empty string");
    }
    if (!seen.insert(label.get<std::string>()).second) {
      return FieldError("labels", absl::StrCat("\"", label.get<std::string>(), "\" appears twice"));
    }
    c.labels.push_back(label.get<std::string>());
  }

  if (!config.contains("outputs")) return FieldError("outputs", "missing");
  const json& outputs = config.at("outputs");
  if (!outputs.is_object()) return FieldError("outputs", "must be an object");
  if (!outputs.contains("features")) return FieldError("outputs.features", "missing");
  absl::StatusOr<OutputRef> features = ParseOutputRef(outputs.at("features"), "outputs.features");
  if (!features.ok()) return features.status();
  c.features_output = *features;
  const bool has_logits = outputs.contains("logits");
  const bool has_probabilities = outputs.contains("probabilities");
  if (has_logits == has_probabilities) {
    return FieldError("outputs", "give exactly one of \"logits\" and \"probabilities\"");
  }
  c.scores_are_probabilities = has_probabilities;
  const char* scores_field = has_logits ? "outputs.logits" : "outputs.probabilities";
  absl::StatusOr<OutputRef> scores =
      ParseOutputRef(outputs.at(has_logits ? "logits" : "probabilities"), scores_field);
  if (!scores.ok()) return scores.status();
  c.scores_output = *scores;
  if (c.scores_output.name == c.features_output.name &&
      c.scores_output.index == c.features_output.index) {
    return FieldError("outputs", "features and scores must be different outputs");
  }

  if (!config.contains("head")) return FieldError("head", "missing");
  const json& head = config.at("head");
  if (!head.is_object()) return FieldError("head", "must be an object {\"weight\", \"bias\"}");
  absl::StatusOr<std::string> weight = RequiredString(head, "weight");
  if (!weight.ok()) return FieldError("head.weight", "must name the head's weight attribute");
  absl::StatusOr<std::string> bias = RequiredString(head, "bias");
  if (!bias.ok()) return FieldError("head.bias", "must name the head's bias attribute");
  c.head_weight = *weight;
  c.head_bias = *bias;
  return c;
}

absl::StatusOr<BackboneConfig> ReadBackboneConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read the model config ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<BackboneConfig> config =
      ParseBackboneConfig(text.str(), std::filesystem::path(path).parent_path().string());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace fer
