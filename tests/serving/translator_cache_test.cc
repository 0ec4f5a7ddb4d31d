#include "lib/serving/translator_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "absl/time/clock.h"
#include "lib/pft/translator.h"
#include "lib/pft/translator_codec.h"
#include "lib/store/profile_store.h"
#include "tests/free_port.h"

namespace fer {
namespace {

constexpr char kBackbone[] = "test-backbone";
constexpr int kDim = 8;
constexpr int kHidden = 16;
// Weight bytes of one test translator.
constexpr size_t kTranslatorBytes = 4 * (2 * kDim * kHidden + kHidden + kDim);

using Source = TranslatorLookup::Source;

class TranslatorCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "translator_cache_" + std::to_string(std::random_device{}());
    std::filesystem::remove_all(dir_);
    auto store = OpenProfileStore("rocksdb://" + dir_, {});
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  TranslatorCacheOptions Options(absl::Duration staleness = absl::Hours(1),
                                 size_t capacity = size_t{1} << 20) {
    TranslatorCacheOptions options;
    options.capacity_bytes = capacity;
    options.staleness = staleness;
    options.backbone_id = kBackbone;
    options.feature_dim = kDim;
    return options;
  }

  // Commits an adapted profile whose translator was made with `seed`;
  // returns the new version.
  uint64_t Adapt(const std::string& user, uint64_t seed, int dim = kDim,
                 const std::string& backbone = kBackbone) {
    Profile profile;
    uint64_t expected = 0;
    if (auto stored = store_->Get("t", user); stored.ok()) {
      profile = *stored;
      expected = stored->version;
    }
    profile.tenant = "t";
    profile.user_id = user;
    profile.backbone_id = backbone;
    profile.translator = pft::EncodeTranslator(*pft::Translator::Create(dim, kHidden, seed));
    auto version = store_->Put(profile, expected);
    EXPECT_TRUE(version.ok()) << version.status();
    return version.ok() ? *version : 0;
  }

  std::string dir_;
  std::unique_ptr<ProfileStore> store_;
};

TEST_F(TranslatorCacheTest, UnknownUsersAreCachedAsHavingNoTranslator) {
  TranslatorCache cache(store_.get(), Options());
  auto first = cache.Get("t", "nobody");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->source, Source::kLoaded);
  EXPECT_EQ(first->user.translator, nullptr);
  EXPECT_EQ(first->user.version, 0u);
  auto second = cache.Get("t", "nobody");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->source, Source::kCache);
  EXPECT_EQ(second->store_seconds, 0);
}

TEST_F(TranslatorCacheTest, LoadsTheStoredTranslatorOnceThenServesItFromMemory) {
  const uint64_t version = Adapt("alice", 7);
  TranslatorCache cache(store_.get(), Options());
  auto miss = cache.Get("t", "alice");
  ASSERT_TRUE(miss.ok()) << miss.status();
  EXPECT_EQ(miss->source, Source::kLoaded);
  EXPECT_EQ(miss->user.version, version);
  ASSERT_NE(miss->user.translator, nullptr);
  EXPECT_EQ(pft::EncodeTranslator(*miss->user.translator),
            pft::EncodeTranslator(*pft::Translator::Create(kDim, kHidden, 7)));
  auto hit = cache.Get("t", "alice");
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(hit->source, Source::kCache);
  EXPECT_EQ(hit->user.translator, miss->user.translator);  // the same object, not a copy
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_GE(cache.bytes(), kTranslatorBytes);
}

TEST_F(TranslatorCacheTest, AfterTheStalenessBoundNewVersionsAndDeletionsAreSeen) {
  Adapt("alice", 1);
  TranslatorCache cache(store_.get(), Options(absl::ZeroDuration()));
  ASSERT_TRUE(cache.Get("t", "alice").ok());
  auto unchanged = cache.Get("t", "alice");
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(unchanged->source, Source::kRevalidated);

  const uint64_t newer = Adapt("alice", 2);
  auto updated = cache.Get("t", "alice");
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->source, Source::kLoaded);
  EXPECT_EQ(updated->user.version, newer);

  ASSERT_TRUE(store_->Delete("t", "alice").ok());
  auto deleted = cache.Get("t", "alice");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->user.translator, nullptr);
}

TEST_F(TranslatorCacheTest, WithinTheStalenessBoundTheCachedVersionIsServed) {
  const uint64_t first = Adapt("alice", 1);
  TranslatorCache cache(store_.get(), Options(absl::Hours(1)));
  ASSERT_TRUE(cache.Get("t", "alice").ok());
  Adapt("alice", 2);
  auto cached = cache.Get("t", "alice");
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(cached->source, Source::kCache);
  EXPECT_EQ(cached->user.version, first);
}

TEST_F(TranslatorCacheTest, EvictsLeastRecentlyUsedBeyondTheByteBound) {
  for (const char* user : {"a", "b", "c"}) Adapt(user, 1);
  // Room for two translators and their bookkeeping, not three.
  TranslatorCache cache(store_.get(), Options(absl::Hours(1), 2 * kTranslatorBytes + 600));
  ASSERT_TRUE(cache.Get("t", "a").ok());
  ASSERT_TRUE(cache.Get("t", "b").ok());
  ASSERT_EQ(cache.Get("t", "a")->source, Source::kCache);  // a is now the most recent
  auto c = cache.Get("t", "c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->evictions, 1);
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_LE(cache.bytes(), 2 * kTranslatorBytes + 600);
  EXPECT_EQ(cache.Get("t", "a")->source, Source::kCache);
  EXPECT_EQ(cache.Get("t", "b")->source, Source::kLoaded);  // b was evicted
}

TEST_F(TranslatorCacheTest, PutServesAJustCommittedVersionAndEraseForgets) {
  TranslatorCache cache(store_.get(), Options());
  auto translator =
      std::make_shared<const pft::Translator>(*pft::Translator::Create(kDim, kHidden, 3));
  cache.Put("t", "alice", UserTranslator{5, translator});
  auto hit = cache.Get("t", "alice");
  ASSERT_TRUE(hit.ok());
  EXPECT_EQ(hit->source, Source::kCache);
  EXPECT_EQ(hit->user.version, 5u);
  cache.Erase("t", "alice");
  EXPECT_EQ(cache.entries(), 0u);
  auto reloaded = cache.Get("t", "alice");
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->source, Source::kLoaded);
  EXPECT_EQ(reloaded->user.translator, nullptr);  // nothing stored for alice
}

TEST_F(TranslatorCacheTest, UnusableTranslatorsAreClearErrors) {
  Adapt("wrong_dim", 1, kDim + 1);
  Adapt("wrong_backbone", 1, kDim, "another-backbone");
  Profile corrupt;
  corrupt.tenant = "t";
  corrupt.user_id = "corrupt";
  corrupt.backbone_id = kBackbone;
  corrupt.translator = "FPFT but not really a translator";
  ASSERT_TRUE(store_->Put(corrupt, 0).ok());

  TranslatorCache cache(store_.get(), Options());
  auto dim = cache.Get("t", "wrong_dim");
  EXPECT_EQ(dim.status().code(), absl::StatusCode::kFailedPrecondition) << dim.status();
  auto backbone = cache.Get("t", "wrong_backbone");
  EXPECT_EQ(backbone.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(backbone.status().message().find("another-backbone"), std::string::npos);
  auto damaged = cache.Get("t", "corrupt");
  EXPECT_EQ(damaged.status().code(), absl::StatusCode::kDataLoss) << damaged.status();
  // Failures are remembered for the staleness bound like answers are.
  EXPECT_EQ(cache.Get("t", "corrupt").status().code(), absl::StatusCode::kDataLoss);
}

// The real store behind a switch that makes it fail like a dead Redis, and a
// count of the reads that reached it.
class SwitchableStore : public ProfileStore {
 public:
  explicit SwitchableStore(ProfileStore* real) : real_(real) {}
  std::string Describe() const override { return real_->Describe(); }
  absl::Status Ping() override { return real_->Ping(); }
  absl::StatusOr<Profile> Get(absl::string_view tenant, absl::string_view user_id,
                              uint32_t parts) override {
    ++reads;
    if (down) return absl::UnavailableError("store switched off");
    return real_->Get(tenant, user_id, parts);
  }
  absl::StatusOr<uint64_t> Put(const Profile& profile, uint64_t expected) override {
    return real_->Put(profile, expected);
  }
  absl::StatusOr<Profile> AppendFeatures(absl::string_view tenant, absl::string_view user_id,
                                         const std::vector<std::vector<float>>& features) override {
    return real_->AppendFeatures(tenant, user_id, features);
  }
  absl::StatusOr<int64_t> Delete(absl::string_view tenant, absl::string_view user_id) override {
    return real_->Delete(tenant, user_id);
  }
  absl::StatusOr<ResealReport> Reseal(ResealGoOn go_on) override { return real_->Reseal(go_on); }
  absl::StatusOr<std::vector<std::string>> ListKeys(absl::string_view prefix) override {
    return real_->ListKeys(prefix);
  }

  bool down = false;
  int reads = 0;

 private:
  ProfileStore* real_;
};

TEST_F(TranslatorCacheTest, AFailingStoreIsAskedOncePerStalenessBoundNotPerLookup) {
  const uint64_t version = Adapt("alice", 1);
  SwitchableStore store(store_.get());
  TranslatorCache cache(&store, Options(absl::Milliseconds(300)));
  store.down = true;
  EXPECT_EQ(cache.Get("t", "alice").status().code(), absl::StatusCode::kUnavailable);
  const int reads = store.reads;
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(cache.Get("t", "alice").status().code(), absl::StatusCode::kUnavailable);
  }
  EXPECT_EQ(store.reads, reads);  // remembered, not retried per lookup

  store.down = false;
  absl::SleepFor(absl::Milliseconds(350));
  auto recovered = cache.Get("t", "alice");
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->user.version, version);
  EXPECT_NE(recovered->user.translator, nullptr);
}

TEST(TranslatorCacheStoreDownTest, StoreErrorsArePassedOnNotHidden) {
  // A Redis store nobody listens on.
  auto store =
      OpenProfileStore("redis://127.0.0.1:" + std::to_string(testing::FreePort()) + "/0", {});
  ASSERT_TRUE(store.ok()) << store.status();
  TranslatorCacheOptions options;
  options.backbone_id = kBackbone;
  options.feature_dim = kDim;
  TranslatorCache cache(store->get(), options);
  auto lookup = cache.Get("t", "alice");
  EXPECT_EQ(lookup.status().code(), absl::StatusCode::kUnavailable) << lookup.status();
}

}  // namespace
}  // namespace fer
