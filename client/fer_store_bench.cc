// fer-store-bench: what personalization costs in storage, measured on a real
// store filled with realistic profiles.
//
//   1. fills the store with --profiles users, each with a bank of
//      --bank_features 256-d neutral features and an adapted translator of
//      the default size (hidden 512: ~0.26 M parameters);
//   2. bytes per stored profile (encoded records; for RocksDB also the
//      database folder's size on disk after the fill);
//   3. profile load latency p50/p99: --lookups translator-cache misses on
//      random users (metadata read + translator read + decode), the path a
//      replica takes the first time it serves a user or after the staleness
//      bound;
//   4. resident memory per cached translator.
//
// Usage: fer-store-bench --store=rocksdb:///tmp/bench  (or redis://127.0.0.1:6379/0)
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lib/metrics/sample_quantile.h"
#include "lib/model/torch_runtime.h"
#include "lib/pft/translator.h"
#include "lib/pft/translator_codec.h"
#include "lib/serving/translator_cache.h"
#include "lib/store/profile_codec.h"
#include "lib/store/profile_store.h"

ABSL_FLAG(std::string, store, "", "Store URL: rocksdb:///path (created) or redis://host:port/db.");
ABSL_FLAG(int, profiles, 10000, "Users to store.");
ABSL_FLAG(int, bank_features, 300, "Enrolled neutral features per user (the server's default).");
ABSL_FLAG(int, lookups, 2000, "Translator-cache misses to time.");
ABSL_FLAG(int, cached, 200, "Translators to hold in a cache when measuring memory.");
ABSL_FLAG(bool, fill, true, "Fill the store first; false measures an already filled store.");

namespace fer {
namespace {

constexpr int kDim = 256;
constexpr char kTenant[] = "bench";
constexpr char kBackbone[] = "bench-backbone";

std::string UserId(int i) { return absl::StrCat("user", i); }

long ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

uint64_t FolderBytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path, error)) {
    if (entry.is_regular_file(error)) total += entry.file_size(error);
  }
  return total;
}

// A translator with trained-looking (non-zero, incompressible) weights.
pft::Translator RandomTranslator(std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 0.05f);
  const pft::Translator base =
      *pft::Translator::Create(kDim, pft::Translator::kDefaultHidden, rng());
  std::vector<float> w2(base.w2().size()), b2(kDim);
  for (float& v : w2) v = normal(rng);
  for (float& v : b2) v = normal(rng);
  return *pft::Translator::FromWeights(kDim, base.hidden(), base.w1(), base.b1(), std::move(w2),
                                       std::move(b2));
}

Profile RandomProfile(int i, std::mt19937& rng, const std::string& translator) {
  std::normal_distribution<float> normal(0.f, 1.f);
  Profile p;
  p.tenant = kTenant;
  p.user_id = UserId(i);
  p.backbone_id = kBackbone;
  p.bank.dim = kDim;
  p.bank.max_count = static_cast<uint32_t>(absl::GetFlag(FLAGS_bank_features));
  for (int f = 0; f < absl::GetFlag(FLAGS_bank_features); ++f) {
    std::vector<float> feature(kDim);
    for (float& v : feature) v = normal(rng);
    p.bank.features.push_back(std::move(feature));
  }
  p.translator = translator;
  p.adapted_unix_ms = 1;
  return p;
}

// Writes `profiles` random profiles (over any already there) and prints the
// rate.
absl::Status FillStore(ProfileStore& store, int profiles,
                       const std::vector<std::string>& translators, std::mt19937& rng) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < profiles; ++i) {
    Profile p = RandomProfile(i, rng, translators[i % translators.size()]);
    uint64_t expected = 0;
    if (auto existing = store.Get(kTenant, p.user_id, kProfileMeta); existing.ok()) {
      expected = existing->version;
    }
    absl::StatusOr<uint64_t> put = store.Put(p, expected);
    if (!put.ok())
      return absl::Status(put.status().code(),
                          absl::StrCat("put ", i, ": ", put.status().message()));
    if ((i + 1) % 1000 == 0) {
      std::printf("  filled %d\n", i + 1);
      std::fflush(stdout);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fill: %.1f s, %.0f profiles/s\n", seconds, profiles / seconds);
  return absl::OkStatus();
}

TranslatorCacheOptions CacheOptions(size_t capacity_bytes, absl::Duration staleness) {
  TranslatorCacheOptions options;
  options.backbone_id = kBackbone;
  options.feature_dim = kDim;
  options.capacity_bytes = capacity_bytes;
  options.staleness = staleness;
  return options;
}

// Memory held per cached translator, over the first `cached` users. Measured
// before the lookups, so that no freed memory is reused.
absl::Status PrintCachedTranslatorMemory(ProfileStore* store, int cached) {
  TranslatorCache hold(store, CacheOptions(size_t{1} << 40, absl::Hours(1)));
  malloc_trim(0);  // return what the fill freed, so that it is not reused unseen
  const long before = ResidentBytes();
  for (int i = 0; i < cached; ++i) {
    if (absl::StatusOr<TranslatorLookup> lookup = hold.Get(kTenant, UserId(i)); !lookup.ok()) {
      return lookup.status();
    }
  }
  const long after = ResidentBytes();
  std::printf("cache: %d translators, %.2f MiB resident each (%.2f MiB of weights each)\n", cached,
              (after - before) / 1048576.0 / cached, hold.bytes() / 1048576.0 / cached);
  return absl::OkStatus();
}

// `lookups` profile loads of random users, each a cache miss (a capacity
// below one translator, no staleness): their p50 and p99.
absl::Status PrintProfileLoadTimes(ProfileStore* store, int profiles, int lookups,
                                   std::mt19937& rng) {
  TranslatorCache misses(store, CacheOptions(1, absl::ZeroDuration()));
  std::uniform_int_distribution<int> pick(0, profiles - 1);
  std::vector<double> load_ms;
  for (int i = 0; i < lookups; ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<TranslatorLookup> lookup = misses.Get(kTenant, UserId(pick(rng)));
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (!lookup.ok()) {
      return absl::Status(lookup.status().code(),
                          absl::StrCat("lookup failed: ", lookup.status().message()));
    }
    if (lookup->user.translator == nullptr)
      return absl::NotFoundError("lookup failed: no translator");
    load_ms.push_back(ms);
  }
  std::printf(
      "profile load (cache miss: meta + translator + decode), %zu lookups: p50 %.3f ms, "
      "p99 %.3f ms\n",
      load_ms.size(), Quantile(load_ms, 0.5), Quantile(load_ms, 0.99));
  return absl::OkStatus();
}

int Run() {
  ConfigureAllocatorForInference(0);  // the allocator settings ferserve runs with
  const std::string url = absl::GetFlag(FLAGS_store);
  const int profiles = absl::GetFlag(FLAGS_profiles);
  if (url.empty() || profiles < 1) {
    std::fprintf(stderr, "fer-store-bench: give --store and --profiles >= 1\n");
    return 2;
  }
  std::string rocksdb_path;
  if (absl::StartsWith(url, "rocksdb://")) {
    rocksdb_path = url.substr(std::string("rocksdb://").size());
    std::filesystem::create_directories(rocksdb_path);
  }
  absl::StatusOr<std::unique_ptr<ProfileStore>> store = OpenProfileStore(url, {});
  if (!store.ok()) {
    std::fprintf(stderr, "fer-store-bench: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  std::mt19937 rng(42);
  // Distinct translators cost time to draw; 16 distinct blobs are cycled.
  std::vector<std::string> translators;
  for (int i = 0; i < 16; ++i) translators.push_back(pft::EncodeTranslator(RandomTranslator(rng)));

  const Profile sample = RandomProfile(0, rng, translators[0]);
  const size_t record_bytes = EncodeProfileMeta(sample, 0).size() +
                              EncodeFeatureBank(sample.bank).size() +
                              ::fer::EncodeTranslator(1, sample.translator).size();
  std::printf("store %s, %d profiles, bank %d x %d floats, translator %zu bytes\n",
              (*store)->Describe().c_str(), profiles, absl::GetFlag(FLAGS_bank_features), kDim,
              translators[0].size());
  std::printf("encoded records per profile: %.1f KiB (meta + bank + translator)\n",
              record_bytes / 1024.0);

  absl::Status status = absl::OkStatus();
  if (absl::GetFlag(FLAGS_fill)) status = FillStore(**store, profiles, translators, rng);
  if (status.ok() && !rocksdb_path.empty()) {
    std::printf("RocksDB folder: %.1f KiB per profile on disk\n",
                FolderBytes(rocksdb_path) / 1024.0 / profiles);
  }
  if (status.ok()) {
    status =
        PrintCachedTranslatorMemory(store->get(), std::min(absl::GetFlag(FLAGS_cached), profiles));
  }
  if (status.ok()) {
    status = PrintProfileLoadTimes(store->get(), profiles, absl::GetFlag(FLAGS_lookups), rng);
  }
  if (!status.ok()) {
    std::fprintf(stderr, "fer-store-bench: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace fer

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Fills a profile store with realistic profiles and measures bytes per profile, profile "
      "load latency and memory per cached translator.\nUsage: fer-store-bench "
      "--store=rocksdb:///tmp/ferserve-bench [--profiles=10000]");
  absl::ParseCommandLine(argc, argv);
  return fer::Run();
}
