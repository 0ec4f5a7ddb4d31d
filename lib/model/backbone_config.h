#ifndef FERSERVE_LIB_MODEL_BACKBONE_CONFIG_H_
#define FERSERVE_LIB_MODEL_BACKBONE_CONFIG_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fer {

// How a single image reaches a clip model.
enum class ImageInput {
  kRepeat,  // the image is repeated to `frames` frames: [B, T, 3, H, W]
  kNative,  // the model takes [B, 3, H, W] itself (e.g. UniLearn's image head)
};

// Where the model's forward result holds one output: a key of a returned
// dict, or an index of a returned tuple.
struct OutputRef {
  std::string name;  // dict key; empty when `index` is used
  int index = -1;    // tuple index; -1 when `name` is used
};

// The model config file beside a TorchScript backbone (model.json, written
// by tools/export_torchscript.py). It says what the model takes and gives:
//
//   {"name": "tiny-unilearn-vitmoe-test", "model_file": "model.pt",
//    "input_size": 32, "frames": 4, "stride": 2, "image_input": "repeat",
//    "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
//    "feature_dim": 64, "labels": ["neutral", ...],
//    "outputs": {"features": "features", "logits": "logits"},
//    "head": {"weight": "video_head.weight", "bias": "video_head.bias"}}
//
// Frame models have frames = 1 and take [B, 3, H, W]; clip models take
// [B, T, 3, H, W] with T = frames. Pixels are scaled to [0, 1] and
// normalized per channel: (x - mean) / std. `outputs` names where the
// forward result holds the features [B, feature_dim] and the logits
// [B, labels] (or "probabilities" instead of "logits" for a model that
// ends with its softmax): keys of a dict, or integer indices of a tuple.
// `head` names the frozen linear classifier's weight [labels, feature_dim]
// and bias [labels] (module attribute paths) that personalization trains
// translators against.
struct BackboneConfig {
  std::string name;
  std::string model_path;  // absolute or relative to the working folder
  int input_size = 0;
  int frames = 1;
  int stride = 1;
  ImageInput image_input = ImageInput::kRepeat;
  std::array<float, 3> mean = {0.f, 0.f, 0.f};
  std::array<float, 3> std = {1.f, 1.f, 1.f};
  int feature_dim = 0;
  std::vector<std::string> labels;
  OutputRef features_output;
  OutputRef scores_output;
  bool scores_are_probabilities = false;  // "probabilities" given instead of "logits"
  std::string head_weight;
  std::string head_bias;

  bool is_clip_model() const { return frames > 1; }
};

// Parses and validates a config; `base_dir` resolves a relative model_file.
// InvalidArgument naming the field for a missing or wrong one.
absl::StatusOr<BackboneConfig> ParseBackboneConfig(absl::string_view json,
                                                   const std::string& base_dir);

// Reads `path` (NotFound when it cannot be read) and parses it, resolving
// model_file against the config's folder; errors name the file.
absl::StatusOr<BackboneConfig> ReadBackboneConfig(const std::string& path);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_BACKBONE_CONFIG_H_
