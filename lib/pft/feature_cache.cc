#include "lib/pft/feature_cache.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/files/byte_io.h"
#include "lib/files/file_contents.h"
#include "lib/model/status_macros.h"
#include "lib/pft/sealed_blob.h"

namespace fer::pft {
namespace {

constexpr SealedFormat kFormat = {"FPFC", kFeatureCacheFormatVersion, "feature cache"};
// Sanity bound on any count read back.
constexpr uint32_t kMaxCount = 1u << 28;

// A u32 length, then the floats.
void PutFloatArray(const std::vector<float>& v, ByteWriter& w) {
  w.U32(static_cast<uint32_t>(v.size()));
  w.Floats(v);
}
std::vector<float> GetFloatArray(ByteReader& r) { return r.Floats(r.U32()); }
float GetFloat(ByteReader& r) {
  const std::vector<float> v = r.Floats(1);
  return v.empty() ? 0.f : v[0];
}
uint32_t GetCount(ByteReader& r) {
  const uint32_t n = r.U32();
  return n <= kMaxCount ? n : 0;
}

}  // namespace

std::string EncodeFeatureCache(const FeatureCache& cache) {
  std::string out;
  StartSealedBlob(kFormat, &out);
  ByteWriter w(&out);
  w.String(cache.backbone_id);
  w.U32(static_cast<uint32_t>(cache.feature_dim));
  w.U32(static_cast<uint32_t>(cache.sources.size()));
  for (const SourceFaces& s : cache.sources) {
    w.String(s.path);
    w.U64(static_cast<uint64_t>(s.file_size));
    w.U64(static_cast<uint64_t>(s.mtime_ns));
    w.String(s.sampling);
    w.U32(static_cast<uint32_t>(s.frames));
    w.U32(static_cast<uint32_t>(s.frames_without_face));
    w.U32(static_cast<uint32_t>(s.faces.size()));
    for (const FaceSample& f : s.faces) {
      w.String(f.subject);
      w.String(f.label);
      w.U64(static_cast<uint64_t>(f.frame_index));
      w.Floats({f.time_s});
      PutFloatArray(f.features, w);
      PutFloatArray(f.landmarks, w);
      PutFloatArray(f.pose, w);
    }
  }
  SealBlob(&out);
  return out;
}

absl::StatusOr<FeatureCache> DecodeFeatureCache(absl::string_view bytes) {
  FER_ASSIGN_OR_RETURN(ByteReader r, OpenSealedBlob(bytes, kFormat));
  FeatureCache cache;
  cache.backbone_id = r.String();
  cache.feature_dim = static_cast<int>(r.U32());
  const uint32_t sources = GetCount(r);
  for (uint32_t i = 0; i < sources && r.ok(); ++i) {
    SourceFaces s;
    s.path = r.String();
    s.file_size = static_cast<int64_t>(r.U64());
    s.mtime_ns = static_cast<int64_t>(r.U64());
    s.sampling = r.String();
    s.frames = static_cast<int>(r.U32());
    s.frames_without_face = static_cast<int>(r.U32());
    const uint32_t faces = GetCount(r);
    for (uint32_t j = 0; j < faces && r.ok(); ++j) {
      FaceSample f;
      f.subject = r.String();
      f.label = r.String();
      f.frame_index = static_cast<int64_t>(r.U64());
      f.time_s = GetFloat(r);
      f.features = GetFloatArray(r);
      f.landmarks = GetFloatArray(r);
      f.pose = GetFloatArray(r);
      if (r.ok() && (f.features.size() != static_cast<size_t>(cache.feature_dim) ||
                     f.landmarks.size() != 136 || f.pose.size() != 3)) {
        return absl::DataLossError(
            absl::StrCat("feature cache: a face of ", s.path, " has inconsistent sizes"));
      }
      s.faces.push_back(std::move(f));
    }
    cache.sources.push_back(std::move(s));
  }
  if (!r.ok()) return absl::DataLossError("feature cache truncated inside a record");
  if (r.remaining() != 0) {
    return absl::DataLossError(
        absl::StrCat("feature cache has ", r.remaining(), " unexpected trailing bytes"));
  }
  return cache;
}

absl::Status WriteFeatureCacheFile(const FeatureCache& cache, const std::string& path) {
  return WriteFileAtomically(path, EncodeFeatureCache(cache));
}

absl::StatusOr<FeatureCache> ReadFeatureCacheFile(const std::string& path) {
  FER_ASSIGN_OR_RETURN(const std::string bytes, ReadFileContents(path, "feature cache"));
  absl::StatusOr<FeatureCache> cache = DecodeFeatureCache(bytes);
  if (!cache.ok()) {
    return absl::Status(cache.status().code(), absl::StrCat(path, ": ", cache.status().message()));
  }
  return cache;
}

}  // namespace fer::pft
