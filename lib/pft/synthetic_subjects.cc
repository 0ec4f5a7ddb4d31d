#include "lib/pft/synthetic_subjects.h"

#include <cmath>
#include <random>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/model/expression_labels.h"

namespace fer::pft {
namespace {

using Rng = std::mt19937_64;

std::vector<float> Gaussian(Rng& rng, size_t n, double stddev = 1.0) {
  std::normal_distribution<double> normal(0.0, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(normal(rng));
  return v;
}

double Norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

void Scale(std::vector<float>& v, double factor) {
  for (float& x : v) x = static_cast<float>(x * factor);
}

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A style's unit offset direction: `overlap` of it in the prototypes' span
// (a random combination of them), the rest a random direction.
std::vector<float> StyleOffset(Rng& rng, const std::vector<std::vector<float>>& prototypes,
                               double overlap) {
  const int d = static_cast<int>(prototypes.front().size());
  std::vector<float> inside(d, 0.0f);
  const std::vector<float> coef = Gaussian(rng, prototypes.size());
  for (size_t c = 0; c < prototypes.size(); ++c) {
    for (int i = 0; i < d; ++i) inside[i] += coef[c] * prototypes[c][i];
  }
  Scale(inside, 1.0 / Norm(inside));
  std::vector<float> outside = Gaussian(rng, d);
  Scale(outside, 1.0 / Norm(outside));
  const double b = std::sqrt(1.0 - overlap * overlap);
  std::vector<float> u(d);
  for (int i = 0; i < d; ++i) u[i] = static_cast<float>(overlap * inside[i] + b * outside[i]);
  Scale(u, 1.0 / Norm(u));
  return u;
}

// A random symmetric d x d matrix of spectral norm about 1, row-major.
std::vector<float> SymmetricDistortion(Rng& rng, int d) {
  const std::vector<float> g = Gaussian(rng, static_cast<size_t>(d) * d);
  std::vector<float> sym(static_cast<size_t>(d) * d);
  const double norm = 1.0 / std::sqrt(2.0 * d);
  for (int i = 0; i < d; ++i) {
    for (int j = 0; j < d; ++j) {
      sym[i * d + j] = static_cast<float>(0.5 * (g[i * d + j] + g[j * d + i]) * norm);
    }
  }
  return sym;
}

// The head that picks the nearest prototype: logits p_c . x - |p_c|^2 / 2,
// labelled as face-api's seven classes, or neutral then c1, c2, ...
LinearHead NearestPrototypeHead(const std::vector<std::vector<float>>& prototypes) {
  const int k = static_cast<int>(prototypes.size());
  LinearHead head;
  head.layer.classes = k;
  head.layer.dim = static_cast<int>(prototypes.front().size());
  if (k == static_cast<int>(FaceApiExpressionLabels().size())) {
    head.labels = FaceApiExpressionLabels();
  } else {
    head.labels.push_back("neutral");
    for (int c = 1; c < k; ++c) head.labels.push_back(absl::StrCat("c", c));
  }
  for (const std::vector<float>& p : prototypes) {
    double sq = 0;
    for (float v : p) {
      head.layer.weight.push_back(v);
      sq += static_cast<double>(v) * v;
    }
    head.layer.bias.push_back(static_cast<float>(-0.5 * sq));
  }
  return head;
}

}  // namespace

absl::StatusOr<SyntheticWorld> SyntheticWorld::Create(const SyntheticConfig& config) {
  if (config.dim < 2 || config.num_classes < 2 || config.style_dim < 1 ||
      config.offset_overlap < 0 || config.offset_overlap > 1) {
    return absl::InvalidArgumentError(
        "synthetic world needs dim >= 2, 2+ classes, style_dim >= 1 "
        "and offset_overlap in [0, 1]");
  }
  SyntheticWorld w;
  w.config_ = config;
  const int d = config.dim;
  const int k = config.num_classes;
  const int m = config.style_dim;
  Rng rng(Mix(config.seed, 0));

  for (int c = 0; c < k; ++c) {
    std::vector<float> p = Gaussian(rng, d);
    Scale(p, config.prototype_norm / Norm(p));
    w.prototypes_.push_back(std::move(p));
  }
  for (int l = 0; l < m; ++l) {
    w.offsets_.push_back(StyleOffset(rng, w.prototypes_, config.offset_overlap));
    w.distortions_.push_back(SymmetricDistortion(rng, d));
  }
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  w.template_shape_.resize(kNumLandmarks * 2);
  for (float& v : w.template_shape_) v = static_cast<float>(unit(rng));
  for (int l = 0; l < m; ++l) {
    std::vector<float> mode = Gaussian(rng, kNumLandmarks * 2);
    Scale(mode, config.landmark_mode_scale * Norm(w.template_shape_) / Norm(mode));
    w.shape_modes_.push_back(std::move(mode));
    w.pose_modes_.push_back(Gaussian(rng, 3, config.pose_degrees_per_style));
  }

  w.head_ = NearestPrototypeHead(w.prototypes_);
  return w;
}

SyntheticSubject SyntheticWorld::MakeSubject(int index, int per_class, uint64_t sample_seed) const {
  Rng rng(Mix(Mix(config_.seed, 1), static_cast<uint64_t>(index)));
  return MakeSubjectWithStyle(index, Gaussian(rng, config_.style_dim), per_class, sample_seed);
}

SyntheticSubject SyntheticWorld::MakeSubjectWithStyle(int index, const std::vector<float>& style,
                                                      int per_class, uint64_t sample_seed) const {
  const int d = config_.dim;
  const int k = config_.num_classes;
  const int m = config_.style_dim;
  Rng rng(Mix(Mix(Mix(config_.seed, 2), static_cast<uint64_t>(index)), sample_seed));

  // A_s and o_s.
  std::vector<double> a(static_cast<size_t>(d) * d, 0.0);
  for (int i = 0; i < d; ++i) a[i * d + i] = 1.0;
  std::vector<double> offset(d, 0.0);
  for (int l = 0; l < m; ++l) {
    for (size_t i = 0; i < a.size(); ++i)
      a[i] += config_.distortion * style[l] * distortions_[l][i];
    for (int i = 0; i < d; ++i) offset[i] += config_.offset_scale * style[l] * offsets_[l][i];
  }
  // The subject's face shape and mean pose.
  std::vector<double> shape(template_shape_.begin(), template_shape_.end());
  std::vector<double> pose(3, 0.0);
  for (int l = 0; l < m; ++l) {
    for (size_t i = 0; i < shape.size(); ++i) shape[i] += style[l] * shape_modes_[l][i];
    for (int i = 0; i < 3; ++i) pose[i] += style[l] * pose_modes_[l][i];
  }

  SyntheticSubject s;
  s.style = style;
  s.data.id = absl::StrCat("synthetic-", index);
  s.data.count = per_class * k;
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> f(d);
  for (int n = 0; n < s.data.count; ++n) {
    const int label = n % k;
    s.data.labels.push_back(label);
    for (int i = 0; i < d; ++i) f[i] = prototypes_[label][i] + config_.noise * normal(rng);
    for (int i = 0; i < d; ++i) s.clean_features.push_back(static_cast<float>(f[i]));
    for (int i = 0; i < d; ++i) {
      double x = offset[i];
      for (int j = 0; j < d; ++j) x += a[i * d + j] * f[j];
      s.data.features.push_back(static_cast<float>(x));
    }
    // Landmarks: shape + noise under a random similarity transform.
    const double scale = 80.0 + 80.0 * uniform(rng);
    const double angle = 0.4 * (uniform(rng) - 0.5);
    const double tx = 100.0 + 300.0 * uniform(rng);
    const double ty = 100.0 + 300.0 * uniform(rng);
    for (int p = 0; p < kNumLandmarks; ++p) {
      const double x = shape[2 * p] + 0.005 * normal(rng);
      const double y = shape[2 * p + 1] + 0.005 * normal(rng);
      s.data.landmarks.push_back(
          static_cast<float>(tx + scale * (std::cos(angle) * x - std::sin(angle) * y)));
      s.data.landmarks.push_back(
          static_cast<float>(ty + scale * (std::sin(angle) * x + std::cos(angle) * y)));
    }
    for (int i = 0; i < 3; ++i)
      s.data.pose.push_back(static_cast<float>(pose[i] + 2.0 * normal(rng)));
  }
  return s;
}

}  // namespace fer::pft
