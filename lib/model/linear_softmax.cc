#include "lib/model/linear_softmax.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/model/status_macros.h"

namespace fer {

void LinearSoftmax(const float* weight, const float* bias, int classes, int dim,
                   const float* features, int batch, float* probabilities) {
  for (int row = 0; row < batch; ++row) {
    const float* x = features + static_cast<size_t>(row) * dim;
    float* p = probabilities + static_cast<size_t>(row) * classes;
    for (int c = 0; c < classes; ++c) {
      const float* w = weight + static_cast<size_t>(c) * dim;
      double logit = bias[c];
      for (int i = 0; i < dim; ++i) logit += static_cast<double>(w[i]) * x[i];
      p[c] = static_cast<float>(logit);
    }
    const float largest = *std::max_element(p, p + classes);
    double sum = 0;
    for (int c = 0; c < classes; ++c) {
      p[c] = std::exp(p[c] - largest);
      sum += p[c];
    }
    for (int c = 0; c < classes; ++c) p[c] = static_cast<float>(p[c] / sum);
  }
}

absl::Status CheckLinearLayer(const LinearLayerWeights& layer) {
  if (layer.classes <= 0 || layer.dim <= 0 ||
      layer.weight.size() != static_cast<size_t>(layer.classes) * layer.dim ||
      layer.bias.size() != static_cast<size_t>(layer.classes)) {
    return absl::InvalidArgumentError(absl::StrCat("linear head of ", layer.classes, " x ",
                                                   layer.dim, " holds ", layer.weight.size(),
                                                   " weights and ", layer.bias.size(), " biases"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> LinearSoftmax(const LinearLayerWeights& head,
                                                 const std::vector<float>& features, int batch) {
  FER_RETURN_IF_ERROR(CheckLinearLayer(head));
  if (batch < 0 || features.size() != static_cast<size_t>(batch) * head.dim) {
    return absl::InvalidArgumentError(absl::StrCat(features.size(), " feature values are not ",
                                                   batch, " x ", head.dim, " features"));
  }
  std::vector<float> probabilities(static_cast<size_t>(batch) * head.classes);
  LinearSoftmax(head.weight.data(), head.bias.data(), head.classes, head.dim, features.data(),
                batch, probabilities.data());
  return probabilities;
}

}  // namespace fer
