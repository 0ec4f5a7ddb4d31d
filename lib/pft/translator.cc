#include "lib/pft/translator.h"

#include <cmath>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fer::pft {
namespace {

// Uniform in [-bound, bound] from a 64-bit engine, identical on every platform
// (std::uniform_real_distribution is not).
float UniformSymmetric(std::mt19937_64& rng, float bound) {
  const double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1)
  return static_cast<float>((2.0 * unit - 1.0) * bound);
}

}  // namespace

absl::StatusOr<Translator> Translator::Create(int dim, int hidden, uint64_t seed) {
  if (dim <= 0 || hidden <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("translator sizes must be positive, got dim ", dim, " hidden ", hidden));
  }
  std::mt19937_64 rng(seed);
  const float bound = 1.0f / std::sqrt(static_cast<float>(dim));
  std::vector<float> w1(static_cast<size_t>(hidden) * dim);
  for (float& w : w1) w = UniformSymmetric(rng, bound);
  std::vector<float> b1(hidden);
  for (float& b : b1) b = UniformSymmetric(rng, bound);
  std::vector<float> w2(static_cast<size_t>(dim) * hidden, 0.0f);
  std::vector<float> b2(dim, 0.0f);
  return Translator(dim, hidden, std::move(w1), std::move(b1), std::move(w2), std::move(b2));
}

absl::StatusOr<Translator> Translator::FromWeights(int dim, int hidden, std::vector<float> w1,
                                                   std::vector<float> b1, std::vector<float> w2,
                                                   std::vector<float> b2) {
  if (dim <= 0 || hidden <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("translator sizes must be positive, got dim ", dim, " hidden ", hidden));
  }
  const size_t matrix = static_cast<size_t>(dim) * hidden;
  if (w1.size() != matrix || b1.size() != static_cast<size_t>(hidden) || w2.size() != matrix ||
      b2.size() != static_cast<size_t>(dim)) {
    return absl::InvalidArgumentError(
        absl::StrCat("translator weights do not match dim ", dim, " hidden ", hidden, ": w1 ",
                     w1.size(), ", b1 ", b1.size(), ", w2 ", w2.size(), ", b2 ", b2.size()));
  }
  return Translator(dim, hidden, std::move(w1), std::move(b1), std::move(w2), std::move(b2));
}

int64_t Translator::num_parameters() const {
  return 2 * static_cast<int64_t>(dim_) * hidden_ + hidden_ + dim_;
}

}  // namespace fer::pft
