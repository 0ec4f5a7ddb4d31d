#include "lib/pft/pairing.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/model/status_macros.h"

namespace fer::pft {
namespace {

using Shape = std::vector<std::complex<double>>;

// Centred, unit-norm points of one 68-point shape at `data`.
Shape Normalized(const float* data) {
  Shape z(kNumLandmarks);
  std::complex<double> centre = 0;
  for (int k = 0; k < kNumLandmarks; ++k) {
    z[k] = {data[2 * k], data[2 * k + 1]};
    centre += z[k];
  }
  centre /= static_cast<double>(kNumLandmarks);
  double norm = 0;
  for (auto& p : z) {
    p -= centre;
    norm += std::norm(p);
  }
  norm = std::sqrt(norm);
  if (norm > 0) {
    for (auto& p : z) p /= norm;
  }
  return z;
}

// sum_k a_k · conj(b_k): its phase is the rotation taking b onto a, its
// modulus the correlation of the two unit-norm shapes after that rotation.
std::complex<double> Inner(const Shape& a, const Shape& b) {
  std::complex<double> s = 0;
  for (int k = 0; k < kNumLandmarks; ++k) s += a[k] * std::conj(b[k]);
  return s;
}

std::vector<double> MeanFeature(const SourceSubject& s, int dim) {
  std::vector<double> mean(dim, 0.0);
  for (int i = 0; i < s.count; ++i) {
    for (int d = 0; d < dim; ++d) mean[d] += s.features[static_cast<size_t>(i) * dim + d];
  }
  for (double& m : mean) m /= s.count;
  return mean;
}

std::vector<double> MeanPose(const SourceSubject& s) {
  std::vector<double> mean(3, 0.0);
  for (int i = 0; i < s.count; ++i) {
    for (int a = 0; a < 3; ++a) mean[a] += s.pose[3 * i + a];
  }
  for (double& m : mean) m /= s.count;
  return mean;
}

double Cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t d = 0; d < a.size(); ++d) {
    ab += a[d] * b[d];
    aa += a[d] * a[d];
    bb += b[d] * b[d];
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

// For each row the column with the smallest cost, skipping the diagonal.
std::vector<int> ArgminOffDiagonal(const std::vector<std::vector<double>>& cost) {
  const int n = static_cast<int>(cost.size());
  std::vector<int> partner(n, -1);
  for (int i = 0; i < n; ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (int j = 0; j < n; ++j) {
      if (j != i && cost[i][j] < best) {
        best = cost[i][j];
        partner[i] = j;
      }
    }
  }
  return partner;
}

}  // namespace

absl::StatusOr<PairingStrategy> ParsePairingStrategy(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "landmark" || lower == "landmarks") return PairingStrategy::kLandmark;
  if (lower == "embedding" || lower == "cosine") return PairingStrategy::kEmbeddingCosine;
  if (lower == "random") return PairingStrategy::kRandom;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown pairing strategy '", name, "' (landmark, embedding, random)"));
}

std::string PairingStrategyName(PairingStrategy strategy) {
  switch (strategy) {
    case PairingStrategy::kLandmark:
      return "landmark";
    case PairingStrategy::kEmbeddingCosine:
      return "embedding";
    case PairingStrategy::kRandom:
      return "random";
  }
  return "unknown";
}

absl::StatusOr<std::vector<float>> MeanNormalizedShape(const std::vector<float>& landmarks,
                                                       int count) {
  if (count <= 0 || landmarks.size() != static_cast<size_t>(count) * kNumLandmarks * 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected ", count, " x 68 x 2 landmarks, got ", landmarks.size(), " floats"));
  }
  const Shape reference = Normalized(landmarks.data());
  Shape sum(kNumLandmarks, 0.0);
  for (int i = 0; i < count; ++i) {
    const Shape z = Normalized(landmarks.data() + static_cast<size_t>(i) * kNumLandmarks * 2);
    const std::complex<double> inner = Inner(reference, z);
    const std::complex<double> rotation =
        std::abs(inner) > 0 ? inner / std::abs(inner) : std::complex<double>(1.0);
    for (int k = 0; k < kNumLandmarks; ++k) sum[k] += rotation * z[k];
  }
  std::vector<float> flat(2 * kNumLandmarks);
  for (int k = 0; k < kNumLandmarks; ++k) {
    flat[2 * k] = static_cast<float>(sum[k].real());
    flat[2 * k + 1] = static_cast<float>(sum[k].imag());
  }
  const Shape mean = Normalized(flat.data());
  for (int k = 0; k < kNumLandmarks; ++k) {
    flat[2 * k] = static_cast<float>(mean[k].real());
    flat[2 * k + 1] = static_cast<float>(mean[k].imag());
  }
  return flat;
}

double ProcrustesDistance(const std::vector<float>& a, const std::vector<float>& b) {
  const double c = std::abs(Inner(Normalized(a.data()), Normalized(b.data())));
  return std::sqrt(std::max(0.0, 1.0 - c * c));
}

absl::StatusOr<std::vector<int>> PairSubjects(const std::vector<SourceSubject>& subjects, int dim,
                                              const PairingOptions& options) {
  const int n = static_cast<int>(subjects.size());
  if (n < 2) return absl::InvalidArgumentError("pairing needs two or more source subjects");
  std::vector<std::vector<double>> cost(n, std::vector<double>(n, 0.0));
  switch (options.strategy) {
    case PairingStrategy::kLandmark: {
      std::vector<std::vector<float>> shapes;
      bool all_poses = true;
      for (const SourceSubject& s : subjects) {
        if (s.landmarks.empty()) {
          return absl::FailedPreconditionError(
              absl::StrCat("landmark pairing: subject '", s.id, "' has no landmarks"));
        }
        FER_ASSIGN_OR_RETURN(std::vector<float> shape, MeanNormalizedShape(s.landmarks, s.count));
        shapes.push_back(std::move(shape));
        all_poses = all_poses && s.pose.size() == static_cast<size_t>(s.count) * 3;
      }
      std::vector<std::vector<double>> poses;
      if (all_poses) {
        for (const SourceSubject& s : subjects) poses.push_back(MeanPose(s));
      }
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          if (i == j) continue;
          cost[i][j] = ProcrustesDistance(shapes[i], shapes[j]);
          if (all_poses) {
            double d2 = 0;
            for (int a = 0; a < 3; ++a) d2 += std::pow(poses[i][a] - poses[j][a], 2);
            cost[i][j] += options.pose_weight_per_degree * std::sqrt(d2);
          }
        }
      }
      return ArgminOffDiagonal(cost);
    }
    case PairingStrategy::kEmbeddingCosine: {
      std::vector<std::vector<double>> means;
      for (const SourceSubject& s : subjects) {
        if (s.count <= 0 || s.features.size() != static_cast<size_t>(s.count) * dim) {
          return absl::InvalidArgumentError(
              absl::StrCat("embedding pairing: subject '", s.id, "' has no ", dim, "-d features"));
        }
        means.push_back(MeanFeature(s, dim));
      }
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) cost[i][j] = -Cosine(means[i], means[j]);
      }
      return ArgminOffDiagonal(cost);
    }
    case PairingStrategy::kRandom: {
      std::mt19937_64 rng(options.seed);
      std::vector<int> partner(n);
      for (int i = 0; i < n; ++i) {
        const int j = static_cast<int>(rng() % static_cast<uint64_t>(n - 1));
        partner[i] = j >= i ? j + 1 : j;
      }
      return partner;
    }
  }
  return absl::InvalidArgumentError("unknown pairing strategy");
}

}  // namespace fer::pft
