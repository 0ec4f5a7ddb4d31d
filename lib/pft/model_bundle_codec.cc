#include "lib/pft/model_bundle_codec.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "lib/files/byte_io.h"
#include "lib/files/file_contents.h"
#include "lib/model/status_macros.h"
#include "lib/pft/sealed_blob.h"
#include "lib/pft/translator_codec.h"

namespace fer::pft {
namespace {

constexpr SealedFormat kFormat = {"FPFB", kModelBundleFormatVersion, "PFT model bundle"};
// Refuses absurd counts before allocating.
constexpr uint32_t kMaxDim = 1u << 14;
constexpr uint32_t kMaxEntries = 1u << 12;

void PutStats(const FeatureStats& stats, ByteWriter& w) {
  w.U32(static_cast<uint32_t>(stats.dim));
  w.U64(static_cast<uint64_t>(stats.count));
  w.Floats(stats.mean);
  w.Floats(stats.covariance);
}

absl::StatusOr<FeatureStats> GetStats(ByteReader& r, const char* what) {
  FeatureStats stats;
  const uint32_t dim = r.U32();
  if (!r.ok() || dim == 0 || dim > kMaxDim) {
    return absl::DataLossError(absl::StrCat("model bundle: bad ", what, " dim ", dim));
  }
  stats.dim = static_cast<int>(dim);
  stats.count = static_cast<int64_t>(r.U64());
  stats.mean = r.Floats(dim);
  stats.covariance = r.Floats(static_cast<size_t>(dim) * dim);
  if (!r.ok()) return absl::DataLossError(absl::StrCat("model bundle: truncated ", what));
  return stats;
}

// A decoded bundle's parts agree: one feature dimension throughout, and a
// neutral label among at least two.
absl::Status CheckConsistent(const ModelBundle& bundle) {
  const int dim = bundle.feature_dim;
  if (dim <= 0 || bundle.translator.dim() != dim || bundle.source_neutral.dim != dim ||
      bundle.source_neutral_translated.dim != dim) {
    return absl::DataLossError(absl::StrCat("model bundle: inconsistent feature dims (bundle ", dim,
                                            ", translator ", bundle.translator.dim(),
                                            ", statistics ", bundle.source_neutral.dim, "/",
                                            bundle.source_neutral_translated.dim, ")"));
  }
  if (bundle.labels.size() < 2 || bundle.neutral_index < 0 ||
      bundle.neutral_index >= static_cast<int>(bundle.labels.size())) {
    return absl::DataLossError(absl::StrCat("model bundle: neutral index ", bundle.neutral_index,
                                            " outside ", bundle.labels.size(), " labels"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string EncodeModelBundle(const ModelBundle& bundle) {
  std::string out;
  StartSealedBlob(kFormat, &out);
  ByteWriter w(&out);
  w.String(bundle.backbone_id);
  w.U32(static_cast<uint32_t>(bundle.feature_dim));
  w.U32(static_cast<uint32_t>(bundle.neutral_index));
  w.U32(static_cast<uint32_t>(bundle.labels.size()));
  for (const std::string& label : bundle.labels) w.String(label);
  w.String(EncodeTranslator(bundle.translator));
  PutStats(bundle.source_neutral, w);
  PutStats(bundle.source_neutral_translated, w);
  w.U32(static_cast<uint32_t>(bundle.training_config.size()));
  for (const auto& [key, value] : bundle.training_config) {
    w.String(key);
    w.String(value);
  }
  SealBlob(&out);
  return out;
}

absl::StatusOr<ModelBundle> DecodeModelBundle(absl::string_view bytes) {
  FER_ASSIGN_OR_RETURN(ByteReader r, OpenSealedBlob(bytes, kFormat));
  std::string backbone_id = r.String();
  const int feature_dim = static_cast<int>(r.U32());
  const int neutral_index = static_cast<int>(r.U32());
  const uint32_t label_count = r.U32();
  if (!r.ok() || label_count > kMaxEntries) {
    return absl::DataLossError("model bundle: bad header or label count");
  }
  std::vector<std::string> labels;
  for (uint32_t i = 0; i < label_count && r.ok(); ++i) labels.push_back(r.String());
  const std::string translator = r.String();
  if (!r.ok()) return absl::DataLossError("model bundle: truncated labels or translator");
  absl::StatusOr<Translator> decoded = DecodeTranslator(translator);
  if (!decoded.ok()) {
    return absl::DataLossError(
        absl::StrCat("model bundle: translator: ", decoded.status().message()));
  }
  ModelBundle bundle{*std::move(decoded)};
  bundle.backbone_id = std::move(backbone_id);
  bundle.feature_dim = feature_dim;
  bundle.neutral_index = neutral_index;
  bundle.labels = std::move(labels);
  FER_ASSIGN_OR_RETURN(bundle.source_neutral, GetStats(r, "source neutral statistics"));
  FER_ASSIGN_OR_RETURN(bundle.source_neutral_translated,
                       GetStats(r, "translated source neutral statistics"));
  const uint32_t entries = r.U32();
  if (!r.ok() || entries > kMaxEntries) {
    return absl::DataLossError("model bundle: bad training-config count");
  }
  // Keys in strictly increasing order, as EncodeModelBundle writes them: a
  // repeated key would leave which value counts to the reader.
  for (uint32_t i = 0; i < entries && r.ok(); ++i) {
    std::string key = r.String();
    std::string value = r.String();
    if (!r.ok()) break;
    if (!bundle.training_config.empty() && key <= bundle.training_config.rbegin()->first) {
      return absl::DataLossError(absl::StrCat("model bundle: training-config key '",
                                              absl::CHexEscape(key), "' repeated or out of order"));
    }
    bundle.training_config.emplace_hint(bundle.training_config.end(), std::move(key),
                                        std::move(value));
  }
  if (!r.ok() || r.remaining() != 0) {
    return absl::DataLossError("model bundle: truncated or trailing bytes in training config");
  }
  FER_RETURN_IF_ERROR(CheckConsistent(bundle));
  return bundle;
}

absl::Status WriteModelBundleFile(const ModelBundle& bundle, const std::string& path) {
  return WriteFileAtomically(path, EncodeModelBundle(bundle));
}

absl::StatusOr<ModelBundle> ReadModelBundleFile(const std::string& path) {
  FER_ASSIGN_OR_RETURN(const std::string bytes, ReadFileContents(path, "PFT model bundle"));
  absl::StatusOr<ModelBundle> bundle = DecodeModelBundle(bytes);
  if (!bundle.ok()) {
    return absl::Status(bundle.status().code(),
                        absl::StrCat(path, ": ", bundle.status().message()));
  }
  return bundle;
}

}  // namespace fer::pft
