#include "lib/model/linear_softmax.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

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

}  // namespace fer
