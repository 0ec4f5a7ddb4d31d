#ifndef FERSERVE_LIB_PFT_TRANSLATOR_TENSORS_H_
#define FERSERVE_LIB_PFT_TRANSLATOR_TENSORS_H_

// Internal to lib/pft: the LibTorch side of the translator and the head, used
// by training code. Other code uses the torch-free translator.h and
// linear_head.h.

#include <torch/torch.h>

#include <vector>

#include "lib/pft/linear_head.h"
#include "lib/pft/translator.h"

namespace fer::pft {

// A [batch, dim] float32 CPU tensor holding a copy of `features`.
torch::Tensor FeaturesTensor(const std::vector<float>& features, int64_t batch, int64_t dim);

// The given rows of `t`, in that order.
torch::Tensor Rows(const torch::Tensor& t, const std::vector<int64_t>& rows);

// The translator's weights as CPU tensors, trainable or not.
struct TranslatorTensors {
  torch::Tensor w1;  // [hidden, dim]
  torch::Tensor b1;  // [hidden]
  torch::Tensor w2;  // [dim, hidden]
  torch::Tensor b2;  // [dim]

  // Copies of `translator`'s weights.
  static TranslatorTensors From(const Translator& translator, bool requires_grad);
  // Read-only views of the translator's weights, without copying: for
  // inference while `translator` is alive and unchanged.
  static TranslatorTensors View(const Translator& translator);

  // x + W2 · relu(W1 · x + b1) + b2 for x: [B, dim].
  torch::Tensor Forward(const torch::Tensor& x) const;

  std::vector<torch::Tensor> Parameters() const { return {w1, b1, w2, b2}; }
  // Detached deep copy.
  TranslatorTensors Clone() const;
  // Copies the current values back into a Translator.
  Translator ToTranslator() const;
};

// The frozen head as CPU tensors.
struct HeadTensors {
  torch::Tensor weight;  // [classes, dim]
  torch::Tensor bias;    // [classes]

  // `head` must be valid (LinearHead::Validate).
  static HeadTensors From(const LinearHead& head);

  torch::Tensor Logits(const torch::Tensor& x) const { return torch::addmm(bias, x, weight.t()); }
};

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_TRANSLATOR_TENSORS_H_
