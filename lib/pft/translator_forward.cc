// Translator::Forward, the one part of Translator that needs LibTorch: kept
// apart so that the value type and its codecs build without it (the fuzzers
// in tests/fuzz do).
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "lib/pft/translator.h"
#include "lib/pft/translator_tensors.h"

namespace fer::pft {

absl::StatusOr<std::vector<float>> Translator::Forward(const std::vector<float>& features,
                                                       int batch) const {
  if (batch < 0 || features.size() != static_cast<size_t>(batch) * dim_) {
    return absl::InvalidArgumentError(absl::StrCat("Translator::Forward expects ", batch, " x ",
                                                   dim_, " floats, got ", features.size()));
  }
  if (batch == 0) return std::vector<float>();
  c10::InferenceMode inference;
  const TranslatorTensors params = TranslatorTensors::View(*this);
  const torch::Tensor x =
      torch::from_blob(const_cast<float*>(features.data()), {batch, dim_}, torch::kFloat32);
  const torch::Tensor y = params.Forward(x).contiguous();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

}  // namespace fer::pft
