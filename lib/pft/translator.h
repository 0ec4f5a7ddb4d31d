#ifndef FERSERVE_LIB_PFT_TRANSLATOR_H_
#define FERSERVE_LIB_PFT_TRANSLATOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace fer::pft {

// PFT's feature translator: a residual MLP on D-dim backbone features,
//
//   T(x) = x + W2 · relu(W1 · x + b1) + b2,
//
// with W1: [hidden, D], b1: [hidden], W2: [D, hidden], b2: [D] (row-major,
// torch::nn::Linear's layout). A fresh translator has W2 = 0 and b2 = 0, so it
// is the identity until trained. A plain value: copyable, immutable through
// its const methods, thread-safe to read.
class Translator {
 public:
  // Hidden width giving ~0.26 M parameters for the 256-d face-api features.
  static constexpr int kDefaultHidden = 512;

  // An identity translator: W1 and b1 drawn like torch::nn::Linear's default
  // (uniform in ±1/sqrt(dim)) from `seed`, W2 and b2 zero.
  static absl::StatusOr<Translator> Create(int dim, int hidden = kDefaultHidden, uint64_t seed = 0);

  // A translator from explicit weights; fails when a size does not match.
  static absl::StatusOr<Translator> FromWeights(int dim, int hidden, std::vector<float> w1,
                                                std::vector<float> b1, std::vector<float> w2,
                                                std::vector<float> b2);

  int dim() const { return dim_; }
  int hidden() const { return hidden_; }
  // 2 · dim · hidden + hidden + dim.
  int64_t num_parameters() const;
  // Multiply-accumulates of one forward pass on one feature vector.
  int64_t macs_per_feature() const { return 2 * static_cast<int64_t>(dim_) * hidden_; }

  // Translates `batch` feature vectors (batch x dim(), row-major).
  absl::StatusOr<std::vector<float>> Forward(const std::vector<float>& features, int batch) const;

  const std::vector<float>& w1() const { return w1_; }
  const std::vector<float>& b1() const { return b1_; }
  const std::vector<float>& w2() const { return w2_; }
  const std::vector<float>& b2() const { return b2_; }

 private:
  Translator(int dim, int hidden, std::vector<float> w1, std::vector<float> b1,
             std::vector<float> w2, std::vector<float> b2)
      : dim_(dim),
        hidden_(hidden),
        w1_(std::move(w1)),
        b1_(std::move(b1)),
        w2_(std::move(w2)),
        b2_(std::move(b2)) {}

  int dim_ = 0;
  int hidden_ = 0;
  std::vector<float> w1_;
  std::vector<float> b1_;
  std::vector<float> w2_;
  std::vector<float> b2_;
};

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_TRANSLATOR_H_
