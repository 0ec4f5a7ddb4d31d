#ifndef FERSERVE_LIB_STORE_PROFILE_H_
#define FERSERVE_LIB_STORE_PROFILE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fer {

// The outcome of the last adaptation of a user's translator, kept with the
// profile so that GetProfile can report it.
struct QualityReport {
  double neutral_rate_before = 0;
  double neutral_rate_after = 0;
  double mean_kl_to_generic = 0;
  uint64_t features_used = 0;
  uint64_t steps = 0;
  bool early_stopped = false;

  bool operator==(const QualityReport& other) const {
    return neutral_rate_before == other.neutral_rate_before &&
           neutral_rate_after == other.neutral_rate_after &&
           mean_kl_to_generic == other.mean_kl_to_generic && features_used == other.features_used &&
           steps == other.steps && early_stopped == other.early_stopped;
  }
};

// A bounded bank of enrolled neutral features: each entry holds `dim` floats;
// beyond `max_count` entries the oldest are evicted. Only features are ever
// stored, never face images.
struct FeatureBank {
  uint32_t dim = 0;                          // 0 until the first feature fixes it.
  uint32_t max_count = 0;                    // 0: unbounded.
  std::vector<std::vector<float>> features;  // Oldest first.

  // Appends `feature` (which must hold `dim` floats once `dim` is set) and
  // evicts the oldest entries beyond `max_count`. Returns false, changing
  // nothing, on a dimension mismatch or an empty feature.
  bool Append(std::vector<float> feature) {
    if (feature.empty()) return false;
    if (dim == 0) dim = static_cast<uint32_t>(feature.size());
    if (feature.size() != dim) return false;
    features.push_back(std::move(feature));
    if (max_count > 0 && features.size() > max_count) {
      features.erase(features.begin(), features.end() - max_count);
    }
    return true;
  }

  // All features in one row-major [count, dim] array.
  std::vector<float> Flattened() const {
    std::vector<float> all;
    all.reserve(features.size() * dim);
    for (const std::vector<float>& f : features) all.insert(all.end(), f.begin(), f.end());
    return all;
  }

  bool operator==(const FeatureBank& other) const {
    return dim == other.dim && max_count == other.max_count && features == other.features;
  }
};

// Everything stored about one user of one tenant. `version` increases by one
// with every committed write (compare-and-set in ProfileStore::Put).
struct Profile {
  std::string tenant;
  std::string user_id;
  uint64_t version = 0;  // 0: never stored.

  int64_t created_unix_ms = 0;
  int64_t updated_unix_ms = 0;
  int64_t adapted_unix_ms = 0;  // 0: never adapted.

  FeatureBank bank;
  // How many features the stored bank holds, from the metadata: Get fills it
  // for every `parts`, so the count needs no read of the bank itself. Put
  // ignores it and records the size of `bank`.
  uint32_t enrolled_features = 0;

  // The personalized translator's weights, opaque to the store, and the
  // profile version at which they were written (0: no translator).
  std::string translator;
  uint64_t translator_version = 0;
  // The generic backbone the translator was trained against.
  std::string backbone_id;

  QualityReport quality;

  bool operator==(const Profile& other) const {
    return tenant == other.tenant && user_id == other.user_id && version == other.version &&
           created_unix_ms == other.created_unix_ms && updated_unix_ms == other.updated_unix_ms &&
           adapted_unix_ms == other.adapted_unix_ms && bank == other.bank &&
           enrolled_features == other.enrolled_features && translator == other.translator &&
           translator_version == other.translator_version && backbone_id == other.backbone_id &&
           quality == other.quality;
  }
};

}  // namespace fer

#endif  // FERSERVE_LIB_STORE_PROFILE_H_
