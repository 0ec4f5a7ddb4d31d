#include "lib/model/backbone_config.h"

#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/files/file_contents.h"
#include "lib/model/status_macros.h"
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

// "labels": 2 or more distinct, non-empty class names.
absl::StatusOr<std::vector<std::string>> ParseLabels(const json& config) {
  if (!config.contains("labels")) return FieldError("labels", "missing");
  const json& labels = config.at("labels");
  if (!labels.is_array() || labels.size() < 2) {
    return FieldError("labels", "must be an array of at least 2 class names");
  }
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const json& label : labels) {
    if (!label.is_string() || label.get<std::string>().empty()) {
      return FieldError("labels", "every label must be a non-empty string");
    }
    if (!seen.insert(label.get<std::string>()).second) {
      return FieldError("labels", absl::StrCat("\"", label.get<std::string>(), "\" appears twice"));
    }
    names.push_back(label.get<std::string>());
  }
  return names;
}

// "outputs": the features output and exactly one of the logits and the
// probabilities, two different outputs.
absl::Status ParseOutputs(const json& config, BackboneConfig* c) {
  if (!config.contains("outputs")) return FieldError("outputs", "missing");
  const json& outputs = config.at("outputs");
  if (!outputs.is_object()) return FieldError("outputs", "must be an object");
  if (!outputs.contains("features")) return FieldError("outputs.features", "missing");
  FER_ASSIGN_OR_RETURN(c->features_output,
                       ParseOutputRef(outputs.at("features"), "outputs.features"));
  const bool has_logits = outputs.contains("logits");
  const bool has_probabilities = outputs.contains("probabilities");
  if (has_logits == has_probabilities) {
    return FieldError("outputs", "give exactly one of \"logits\" and \"probabilities\"");
  }
  c->scores_are_probabilities = has_probabilities;
  FER_ASSIGN_OR_RETURN(c->scores_output,
                       ParseOutputRef(outputs.at(has_logits ? "logits" : "probabilities"),
                                      has_logits ? "outputs.logits" : "outputs.probabilities"));
  if (c->scores_output.name == c->features_output.name &&
      c->scores_output.index == c->features_output.index) {
    return FieldError("outputs", "features and scores must be different outputs");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BackboneConfig> ParseBackboneConfig(absl::string_view text,
                                                   const std::string& base_dir) {
  const json config = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) return absl::InvalidArgumentError("model config is not valid JSON");
  if (!config.is_object()) return absl::InvalidArgumentError("model config must be a JSON object");

  BackboneConfig c;
  FER_ASSIGN_OR_RETURN(c.name, RequiredString(config, "name"));
  FER_ASSIGN_OR_RETURN(const std::string model_file, RequiredString(config, "model_file"));
  const std::filesystem::path file(model_file);
  c.model_path = file.is_absolute() || base_dir.empty()
                     ? file.string()
                     : (std::filesystem::path(base_dir) / file).string();

  FER_ASSIGN_OR_RETURN(c.input_size, IntInRange(config, "input_size", 8, kMaxInputSize, true, 0));
  FER_ASSIGN_OR_RETURN(c.frames, IntInRange(config, "frames", 1, kMaxFrames, true, 1));
  FER_ASSIGN_OR_RETURN(c.stride, IntInRange(config, "stride", 1, kMaxFrames, false, c.frames));
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
  FER_ASSIGN_OR_RETURN(c.mean, RgbTriple(config, "mean", c.mean, false));
  FER_ASSIGN_OR_RETURN(c.std, RgbTriple(config, "std", c.std, true));
  FER_ASSIGN_OR_RETURN(c.feature_dim,
                       IntInRange(config, "feature_dim", 1, kMaxFeatureDim, true, 0));
  FER_ASSIGN_OR_RETURN(c.labels, ParseLabels(config));
  FER_RETURN_IF_ERROR(ParseOutputs(config, &c));

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
  FER_ASSIGN_OR_RETURN(const std::string text, ReadFileContents(path, "the model config"));
  absl::StatusOr<BackboneConfig> config =
      ParseBackboneConfig(text, std::filesystem::path(path).parent_path().string());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

}  // namespace fer
