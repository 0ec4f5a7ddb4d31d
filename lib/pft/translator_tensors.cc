#include "lib/pft/translator_tensors.h"

#include <utility>

namespace fer::pft {
namespace {

torch::Tensor Copy(const std::vector<float>& values, torch::IntArrayRef shape) {
  return torch::from_blob(const_cast<float*>(values.data()), shape, torch::kFloat32).clone();
}

std::vector<float> ToVector(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

torch::Tensor FeaturesTensor(const std::vector<float>& features, int64_t batch, int64_t dim) {
  return Copy(features, {batch, dim});
}

torch::Tensor Rows(const torch::Tensor& t, const std::vector<int64_t>& rows) {
  return t.index_select(0, torch::tensor(rows, torch::kInt64));
}

TranslatorTensors TranslatorTensors::From(const Translator& translator, bool requires_grad) {
  const int64_t d = translator.dim();
  const int64_t h = translator.hidden();
  TranslatorTensors t;
  t.w1 = Copy(translator.w1(), {h, d}).set_requires_grad(requires_grad);
  t.b1 = Copy(translator.b1(), {h}).set_requires_grad(requires_grad);
  t.w2 = Copy(translator.w2(), {d, h}).set_requires_grad(requires_grad);
  t.b2 = Copy(translator.b2(), {d}).set_requires_grad(requires_grad);
  return t;
}

TranslatorTensors TranslatorTensors::View(const Translator& translator) {
  const int64_t d = translator.dim();
  const int64_t h = translator.hidden();
  auto view = [](const std::vector<float>& values, torch::IntArrayRef shape) {
    return torch::from_blob(const_cast<float*>(values.data()), shape, torch::kFloat32);
  };
  return {view(translator.w1(), {h, d}), view(translator.b1(), {h}), view(translator.w2(), {d, h}),
          view(translator.b2(), {d})};
}

torch::Tensor TranslatorTensors::Forward(const torch::Tensor& x) const {
  const torch::Tensor hidden = torch::relu(torch::addmm(b1, x, w1.t()));
  return x + torch::addmm(b2, hidden, w2.t());
}

TranslatorTensors TranslatorTensors::Clone() const {
  return {w1.detach().clone(), b1.detach().clone(), w2.detach().clone(), b2.detach().clone()};
}

Translator TranslatorTensors::ToTranslator() const {
  // Sizes are consistent by construction.
  return *Translator::FromWeights(static_cast<int>(w1.size(1)), static_cast<int>(w1.size(0)),
                                  ToVector(w1), ToVector(b1), ToVector(w2), ToVector(b2));
}

HeadTensors HeadTensors::From(const LinearHead& head) {
  return {Copy(head.layer.weight, {head.num_classes(), head.feature_dim()}),
          Copy(head.layer.bias, {head.num_classes()})};
}

}  // namespace fer::pft
