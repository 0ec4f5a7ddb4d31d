#include "lib/model/torchscript_backbone.h"

#include <torch/script.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/model/net_input.h"
#include "lib/model/status_macros.h"
#include "lib/model/torch_device.h"

namespace fer {

struct TorchScriptBackbone::Impl {
  torch::Device device{torch::kCPU};
  // forward() is const in use; torch::jit::Module's methods are not marked so.
  mutable torch::jit::Module module;
};

namespace {

std::string ShapeString(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) absl::StrAppend(&s, i ? ", " : "", t.size(i));
  return s + "]";
}

std::string RefString(const OutputRef& ref) {
  return ref.name.empty() ? absl::StrCat("index ", ref.index) : absl::StrCat("\"", ref.name, "\"");
}

// One output of the forward result: a dict entry by key or a tuple element
// by index.
absl::StatusOr<torch::Tensor> SelectOutput(const c10::IValue& result, const OutputRef& ref,
                                           const char* field) {
  c10::IValue value;
  if (!ref.name.empty()) {
    if (!result.isGenericDict()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model config field \"", field, "\" names the dict key ", RefString(ref),
                       " but the model's forward does not return a dict (", result.tagKind(), ")"));
    }
    const c10::Dict<c10::IValue, c10::IValue> dict = result.toGenericDict();
    const auto it = dict.find(c10::IValue(ref.name));
    if (it == dict.end()) {
      return absl::InvalidArgumentError(absl::StrCat("model config field \"", field,
                                                     "\": the model's output dict has no key ",
                                                     RefString(ref)));
    }
    value = it->value();
  } else {
    if (!result.isTuple()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "model config field \"", field, "\" names tuple ", RefString(ref),
          " but the model's forward does not return a tuple (", result.tagKind(), ")"));
    }
    const auto& elements = result.toTupleRef().elements();
    if (ref.index >= static_cast<int>(elements.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("model config field \"", field, "\": ", RefString(ref),
                       " but the output tuple has ", elements.size(), " elements"));
    }
    value = elements[ref.index];
  }
  if (!value.isTensor()) {
    return absl::InvalidArgumentError(absl::StrCat("model config field \"", field, "\": output ",
                                                   RefString(ref), " is not a tensor"));
  }
  return value.toTensor();
}

// The tensor at a dotted attribute path ("video_head.weight").
absl::StatusOr<torch::Tensor> AttributeTensor(const torch::jit::Module& root,
                                              const std::string& path, const char* field) {
  torch::jit::Module module = root;
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!module.hasattr(parts[i])) {
      return absl::InvalidArgumentError(absl::StrCat("model config field \"", field, "\": \"", path,
                                                     "\" not found in the model (no \"", parts[i],
                                                     "\")"));
    }
    const c10::IValue value = module.attr(parts[i]);
    if (i + 1 == parts.size()) {
      if (!value.isTensor()) {
        return absl::InvalidArgumentError(
            absl::StrCat("model config field \"", field, "\": \"", path, "\" is not a tensor"));
      }
      return value.toTensor();
    }
    if (!value.isModule()) {
      return absl::InvalidArgumentError(absl::StrCat("model config field \"", field, "\": \"",
                                                     parts[i], "\" in \"", path,
                                                     "\" is not a submodule"));
    }
    module = value.toModule();
  }
  return absl::InvalidArgumentError(absl::StrCat("model config field \"", field, "\" is empty"));
}

std::vector<float> ToVector(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

TorchScriptBackbone::TorchScriptBackbone(BackboneConfig config, std::unique_ptr<Impl> impl)
    : config_(std::move(config)), impl_(std::move(impl)) {}

TorchScriptBackbone::~TorchScriptBackbone() = default;

std::string TorchScriptBackbone::device_name() const { return impl_->device.str(); }

absl::StatusOr<std::unique_ptr<TorchScriptBackbone>> TorchScriptBackbone::Load(
    const BackboneConfig& config, const ModelDevice& device) {
  FER_ASSIGN_OR_RETURN(torch::Device torch_device, ToTorchDevice(device));
  std::error_code error;
  if (!std::filesystem::is_regular_file(config.model_path, error)) {
    return absl::NotFoundError(absl::StrCat(
        "model config field \"model_file\": ", config.model_path, " is not a readable file"));
  }
  auto impl = std::make_unique<Impl>();
  impl->device = torch_device;
  try {
    impl->module = torch::jit::load(config.model_path, torch_device);
  } catch (const std::exception& e) {
    // c10::Error's what() carries a C++ backtrace after the first line.
    std::string message = e.what();
    message = message.substr(0, message.find('\n'));
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load TorchScript model ", config.model_path, ": ", message));
  }
  impl->module.eval();
  if (!impl->module.find_method("forward")) {
    return absl::InvalidArgumentError(
        absl::StrCat("TorchScript model ", config.model_path, " has no forward method"));
  }
  std::unique_ptr<TorchScriptBackbone> backbone(new TorchScriptBackbone(config, std::move(impl)));
  FER_RETURN_IF_ERROR(backbone->LoadHead());
  FER_RETURN_IF_ERROR(backbone->CheckOutputs(config.is_clip_model() ? 5 : 4));
  if (config.is_clip_model() && config.image_input == ImageInput::kNative) {
    FER_RETURN_IF_ERROR(backbone->CheckOutputs(4));
  }
  return backbone;
}

absl::Status TorchScriptBackbone::LoadHead() {
  FER_ASSIGN_OR_RETURN(torch::Tensor weight,
                       AttributeTensor(impl_->module, config_.head_weight, "head.weight"));
  FER_ASSIGN_OR_RETURN(torch::Tensor bias,
                       AttributeTensor(impl_->module, config_.head_bias, "head.bias"));
  const int64_t classes = static_cast<int64_t>(config_.labels.size());
  if (weight.dim() != 2 || weight.size(0) != classes || weight.size(1) != config_.feature_dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config field \"head.weight\": \"", config_.head_weight, "\" has shape ",
                     ShapeString(weight), ", expected [", classes, ", ", config_.feature_dim,
                     "] (labels x feature_dim)"));
  }
  if (bias.dim() != 1 || bias.size(0) != classes) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config field \"head.bias\": \"", config_.head_bias, "\" has shape ",
                     ShapeString(bias), ", expected [", classes, "] (labels)"));
  }
  head_.classes = static_cast<int>(classes);
  head_.dim = config_.feature_dim;
  head_.weight = ToVector(weight);
  head_.bias = ToVector(bias);
  return absl::OkStatus();
}

absl::Status TorchScriptBackbone::CheckOutputs(int rank) const {
  const int64_t s = config_.input_size;
  const torch::Tensor probe =
      rank == 5 ? torch::zeros({2, config_.frames, 3, s, s}) : torch::zeros({2, 3, s, s});
  absl::StatusOr<Output> out = Forward(probe);
  if (!out.ok()) {
    return absl::Status(out.status().code(), absl::StrCat("dry run on ", ShapeString(probe),
                                                          " (from input_size, "
                                                          "frames and image_input): ",
                                                          out.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<TorchScriptBackbone::Output> TorchScriptBackbone::Forward(
    const torch::Tensor& input) const {
  const int64_t s = config_.input_size;
  const bool clip = input.dim() == 5 && input.size(1) == config_.frames && input.size(2) == 3 &&
                    input.size(3) == s && input.size(4) == s && config_.is_clip_model();
  const bool image = input.dim() == 4 && input.size(1) == 3 && input.size(2) == s &&
                     input.size(3) == s &&
                     (!config_.is_clip_model() || config_.image_input == ImageInput::kNative);
  if (!clip && !image) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input ", ShapeString(input), " does not fit the model: it takes ",
        config_.is_clip_model() ? absl::StrCat("[B, ", config_.frames, ", 3, ", s, ", ", s, "]")
                                : absl::StrCat("[B, 3, ", s, ", ", s, "]"),
        config_.is_clip_model() && config_.image_input == ImageInput::kNative
            ? absl::StrCat(" or [B, 3, ", s, ", ", s, "]")
            : ""));
  }
  const int64_t batch = input.size(0);
  c10::IValue result;
  try {
    torch::NoGradGuard no_grad;
    result = impl_->module.forward({input.to(impl_->device, torch::kFloat32)});
  } catch (const std::exception& e) {
    std::string message = e.what();
    return absl::InternalError(
        absl::StrCat("the model's forward failed: ", message.substr(0, message.find('\n'))));
  }
  FER_ASSIGN_OR_RETURN(torch::Tensor features,
                       SelectOutput(result, config_.features_output, "outputs.features"));
  const char* scores_field =
      config_.scores_are_probabilities ? "outputs.probabilities" : "outputs.logits";
  FER_ASSIGN_OR_RETURN(torch::Tensor scores,
                       SelectOutput(result, config_.scores_output, scores_field));
  if (features.dim() != 2 || features.size(0) != batch || features.size(1) != config_.feature_dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config field \"feature_dim\": the features output has shape ",
                     ShapeString(features), ", expected [", batch, ", ", config_.feature_dim, "]"));
  }
  const int64_t classes = static_cast<int64_t>(config_.labels.size());
  if (scores.dim() != 2 || scores.size(0) != batch || scores.size(1) != classes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model config field \"labels\": the ", scores_field, " output has shape ",
        ShapeString(scores), ", expected [", batch, ", ", classes, "] (", classes, " labels)"));
  }
  Output out;
  out.features = features.detach().to(torch::kCPU, torch::kFloat32).contiguous().clone();
  const torch::Tensor cpu_scores = scores.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (config_.scores_are_probabilities) {
    out.probabilities = cpu_scores.clone();
  } else {
    out.logits = cpu_scores.clone();
    out.probabilities = torch::softmax(cpu_scores, 1).contiguous();
  }
  return out;
}

torch::Tensor TorchScriptBackbone::ClipsToTensor(const std::vector<std::vector<RgbImage>>& clips,
                                                 int frames) const {
  const int64_t s = config_.input_size;
  std::vector<ImageRegion> regions;
  for (const std::vector<RgbImage>& clip : clips) {
    for (const RgbImage& crop : clip) regions.push_back(WholeImage(crop));
  }
  torch::NoGradGuard no_grad;
  torch::Tensor x;
  {
    x = CropsToBatchTensor(regions, config_.input_size)  // [N, S, S, 3], 0..255
            .permute({0, 3, 1, 2})
            .div(255.0f);
    const torch::Tensor mean =
        torch::tensor({config_.mean[0], config_.mean[1], config_.mean[2]}).reshape({1, 3, 1, 1});
    const torch::Tensor std =
        torch::tensor({config_.std[0], config_.std[1], config_.std[2]}).reshape({1, 3, 1, 1});
    x = ((x - mean) / std).contiguous();
  }
  const int64_t batch = static_cast<int64_t>(clips.size());
  if (frames > 1) return x.reshape({batch, frames, 3, s, s});
  return x;
}

std::vector<RgbImage> SampleClip(const std::vector<RgbImage>& clip, int frames) {
  if (static_cast<int>(clip.size()) == frames || clip.empty()) return clip;
  std::vector<RgbImage> out;
  out.reserve(frames);
  for (int i = 0; i < frames; ++i) {
    out.push_back(clip[static_cast<size_t>(i) * clip.size() / frames]);
  }
  return out;
}

}  // namespace fer
