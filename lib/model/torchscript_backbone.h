#ifndef FERSERVE_LIB_MODEL_TORCHSCRIPT_BACKBONE_H_
#define FERSERVE_LIB_MODEL_TORCHSCRIPT_BACKBONE_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/backbone_config.h"
#include "lib/model/face_types.h"
#include "lib/vision/image.h"

namespace fer {

// A frame or clip model exported to TorchScript (tools/export_torchscript.py)
// and described by a BackboneConfig: loaded with torch::jit::load on the CPU
// or a GPU, in eval mode, run without autograd. Load checks the config
// against the model (the head's attributes and shapes, and the outputs of a
// dry run on a zero clip) so that a wrong file fails at start-up with an
// error naming the field, never at the first request. Immutable after Load;
// Forward is thread-safe.
class TorchScriptBackbone {
 public:
  struct Output {
    torch::Tensor features;       // [B, feature_dim], CPU float32
    torch::Tensor logits;         // [B, labels], CPU float32; undefined for
                                  // models that output probabilities
    torch::Tensor probabilities;  // [B, labels], CPU float32
  };

  static absl::StatusOr<std::unique_ptr<TorchScriptBackbone>> Load(const BackboneConfig& config,
                                                                   const ModelDevice& device);
  ~TorchScriptBackbone();

  // The model on a normalized batch: [B, T, 3, H, W] clips (T = frames,
  // H = W = input_size), or [B, 3, H, W] images for a frame model or a clip
  // model whose image_input is native. InvalidArgument on other shapes.
  absl::StatusOr<Output> Forward(const torch::Tensor& input) const;

  // Face crops of any size as the model's normalized input: each crop is
  // padded to a square and resized to input_size as the embedded backbone
  // does, scaled to [0, 1] and normalized with mean/std. Every clip must
  // hold `frames` crops (use SampleClip); [B, T, 3, S, S], or [B, 3, S, S]
  // when frames is 1. CPU float32.
  torch::Tensor ClipsToTensor(const std::vector<std::vector<RgbImage>>& clips, int frames) const;

  // The frozen linear head named by the config (weight [labels, dim]).
  const LinearLayerWeights& head() const { return head_; }
  const BackboneConfig& config() const { return config_; }
  std::string device_name() const;

 private:
  struct Impl;
  TorchScriptBackbone(BackboneConfig config, std::unique_ptr<Impl> impl);
  absl::Status LoadHead();
  absl::Status CheckOutputs(int batch_rank) const;

  BackboneConfig config_;
  std::unique_ptr<Impl> impl_;
  LinearLayerWeights head_;
};

// `frames` crops from the `clip` (oldest first) by nearest-neighbour
// resampling in time: a clip of `frames` crops is returned as is, a single
// crop is repeated, others are stretched or thinned evenly.
std::vector<RgbImage> SampleClip(const std::vector<RgbImage>& clip, int frames);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_TORCHSCRIPT_BACKBONE_H_
