#include "lib/store/profile_codec.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include <array>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "lib/files/byte_io.h"

namespace fer {
namespace {

constexpr char kMagic[4] = {'F', 'E', 'R', 'P'};
constexpr size_t kHeaderSize = 4 + 2 + 1 + 4;
constexpr size_t kTrailerSize = 4;

const char* KindName(ProfileRecordKind kind) {
  switch (kind) {
    case ProfileRecordKind::kMeta:
      return "meta";
    case ProfileRecordKind::kFeatures:
      return "features";
    case ProfileRecordKind::kTranslator:
      return "translator";
  }
  return "unknown";
}

absl::Status Corrupt(ProfileRecordKind kind, absl::string_view why) {
  return absl::DataLossError(
      absl::StrCat("profile record corrupt (", KindName(kind), " record): ", why));
}

std::string Frame(ProfileRecordKind kind, const std::string& payload) {
  std::string out(kMagic, sizeof(kMagic));
  ByteWriter w(&out);
  w.U16(kProfileFormatVersion);
  w.U8(static_cast<uint8_t>(kind));
  w.U32(static_cast<uint32_t>(payload.size()));
  out.append(payload);
  w.U32(Crc32c(out));
  return out;
}

// Checks the envelope of `record` and returns its payload.
absl::StatusOr<absl::string_view> Unframe(absl::string_view record, ProfileRecordKind kind) {
  if (record.size() < kHeaderSize + kTrailerSize) {
    return Corrupt(kind, absl::StrCat("too short (", record.size(), " bytes)"));
  }
  if (std::memcmp(record.data(), kMagic, sizeof(kMagic)) != 0) {
    return Corrupt(kind, "bad magic (not a ferserve profile record, or still encrypted)");
  }
  ByteReader header(record.substr(4, kHeaderSize - 4));
  const uint16_t format = header.U16();
  const uint8_t stored_kind = header.U8();
  const uint32_t size = header.U32();
  if (record.size() != kHeaderSize + size + kTrailerSize) {
    return Corrupt(kind, absl::StrCat("size mismatch (payload says ", size, " bytes, record has ",
                                      record.size() - kHeaderSize - kTrailerSize, ")"));
  }
  ByteReader trailer(record.substr(record.size() - kTrailerSize));
  const uint32_t stored_crc = trailer.U32();
  const uint32_t crc = Crc32c(record.substr(0, record.size() - kTrailerSize));
  if (stored_crc != crc) {
    return Corrupt(kind,
                   absl::StrCat("checksum mismatch (stored ", stored_crc, ", computed ", crc, ")"));
  }
  if (format != kProfileFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("profile record has format version ", format,
                                                      "; this build reads version ",
                                                      kProfileFormatVersion));
  }
  if (stored_kind != static_cast<uint8_t>(kind)) {
    return Corrupt(kind, absl::StrCat("holds record kind ", static_cast<int>(stored_kind)));
  }
  return record.substr(kHeaderSize, size);
}

}  // namespace

namespace {

uint32_t Crc32cPortable(absl::string_view data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : data) crc = table[(crc ^ static_cast<uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

#if defined(__x86_64__)
// SSE4.2's crc32 instruction computes CRC-32C 8 bytes at a time (translator
// records are ~1 MiB; the table walks a byte at a time).
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(absl::string_view data) {
  const char* p = data.data();
  size_t n = data.size();
  uint64_t crc = 0xFFFFFFFFu;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    crc = _mm_crc32_u64(crc, word);
  }
  uint32_t crc32 = static_cast<uint32_t>(crc);
  for (; n > 0; ++p, --n) crc32 = _mm_crc32_u8(crc32, static_cast<uint8_t>(*p));
  return crc32 ^ 0xFFFFFFFFu;
}
#endif

}  // namespace

uint32_t Crc32c(absl::string_view data) {
#if defined(__x86_64__)
  static const bool kHasSse42 = __builtin_cpu_supports("sse4.2");
  if (kHasSse42) return Crc32cSse42(data);
#endif
  return Crc32cPortable(data);
}

uint32_t Crc32cPortableForTesting(absl::string_view data) { return Crc32cPortable(data); }

std::string EncodeProfileMeta(const Profile& profile, uint64_t previous_translator_version) {
  std::string payload;
  ByteWriter w(&payload);
  w.String(profile.tenant);
  w.String(profile.user_id);
  w.U64(profile.version);
  w.I64(profile.created_unix_ms);
  w.I64(profile.updated_unix_ms);
  w.I64(profile.adapted_unix_ms);
  w.U32(profile.bank.dim);
  w.U32(profile.bank.max_count);
  w.U32(profile.enrolled_features);
  w.U64(profile.translator_version);
  w.U64(previous_translator_version);
  w.String(profile.backbone_id);
  w.F64(profile.quality.neutral_rate_before);
  w.F64(profile.quality.neutral_rate_after);
  w.F64(profile.quality.mean_kl_to_generic);
  w.U64(profile.quality.features_used);
  w.U64(profile.quality.steps);
  w.U8(profile.quality.early_stopped ? 1 : 0);
  return Frame(ProfileRecordKind::kMeta, payload);
}

absl::Status DecodeProfileMeta(absl::string_view record, Profile* profile,
                               uint64_t* previous_translator_version) {
  constexpr ProfileRecordKind kind = ProfileRecordKind::kMeta;
  auto payload = Unframe(record, kind);
  if (!payload.ok()) return payload.status();
  ByteReader r(*payload);
  Profile p;
  p.tenant = r.String();
  p.user_id = r.String();
  p.version = r.U64();
  p.created_unix_ms = r.I64();
  p.updated_unix_ms = r.I64();
  p.adapted_unix_ms = r.I64();
  p.bank.dim = r.U32();
  p.bank.max_count = r.U32();
  p.enrolled_features = r.U32();
  p.translator_version = r.U64();
  const uint64_t previous = r.U64();
  p.backbone_id = r.String();
  p.quality.neutral_rate_before = r.F64();
  p.quality.neutral_rate_after = r.F64();
  p.quality.mean_kl_to_generic = r.F64();
  p.quality.features_used = r.U64();
  p.quality.steps = r.U64();
  p.quality.early_stopped = r.U8() != 0;
  if (!r.done()) return Corrupt(kind, "payload fields do not add up");
  *profile = std::move(p);
  if (previous_translator_version != nullptr) *previous_translator_version = previous;
  return absl::OkStatus();
}

std::string EncodeFeatureBank(const FeatureBank& bank) {
  std::string payload;
  ByteWriter w(&payload);
  w.U32(bank.dim);
  w.U32(bank.max_count);
  w.U32(static_cast<uint32_t>(bank.features.size()));
  for (const std::vector<float>& f : bank.features) w.Floats(f);
  return Frame(ProfileRecordKind::kFeatures, payload);
}

absl::StatusOr<FeatureBank> DecodeFeatureBank(absl::string_view record) {
  constexpr ProfileRecordKind kind = ProfileRecordKind::kFeatures;
  auto payload = Unframe(record, kind);
  if (!payload.ok()) return payload.status();
  ByteReader r(*payload);
  FeatureBank bank;
  bank.dim = r.U32();
  bank.max_count = r.U32();
  const uint32_t count = r.U32();
  if (!r.ok() || uint64_t{count} * bank.dim * 4 != r.remaining()) {
    return Corrupt(kind, absl::StrCat(count, " features of ", bank.dim, " floats do not fit ",
                                      r.remaining(), " bytes"));
  }
  // Features of no floats would fit any record, and their count decides what
  // is allocated: a bank with features has a dimension.
  if (count > 0 && bank.dim == 0) {
    return Corrupt(kind, absl::StrCat(count, " features of 0 floats"));
  }
  bank.features.resize(count);
  for (std::vector<float>& f : bank.features) f = r.Floats(bank.dim);
  return bank;
}

std::string EncodeTranslator(uint64_t translator_version, absl::string_view weights) {
  std::string payload;
  ByteWriter(&payload).U64(translator_version);
  payload.append(weights.data(), weights.size());
  return Frame(ProfileRecordKind::kTranslator, payload);
}

absl::StatusOr<std::string> DecodeTranslator(absl::string_view record, uint64_t expected_version) {
  constexpr ProfileRecordKind kind = ProfileRecordKind::kTranslator;
  auto payload = Unframe(record, kind);
  if (!payload.ok()) return payload.status();
  ByteReader r(*payload);
  const uint64_t version = r.U64();
  if (!r.ok()) return Corrupt(kind, "missing version");
  if (version != expected_version) {
    return Corrupt(kind, absl::StrCat("holds version ", version, ", expected ", expected_version));
  }
  return std::string(payload->substr(8));
}

}  // namespace fer
