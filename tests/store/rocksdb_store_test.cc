#include "lib/store/rocksdb_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "lib/store/profile_store.h"
#include "tests/store/hooked_backend.h"
#include "tests/store/profile_store_contract.h"

namespace fer::testing {
namespace {

std::string FreshDir(const std::string& name) {
  static std::mt19937_64 rng(std::random_device{}());
  const std::string dir =
      std::string(::testing::TempDir()) + "rocks_" + name + "_" + std::to_string(rng());
  std::filesystem::remove_all(dir);
  return dir;
}

// One RocksDB directory per test; Open closes the store it opened before
// (one process owns a RocksDB database).
class RocksEnv {
 public:
  static constexpr bool kIndependentInstances = false;
  RocksEnv() : dir_(FreshDir("contract")) {}
  ~RocksEnv() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  KvProfileStore* Open(const ProfileStoreOptions& options) {
    store_.reset();
    auto backend = RocksDbBackend::Open(dir_, {});
    EXPECT_TRUE(backend.ok()) << backend.status();
    store_ = std::make_unique<KvProfileStore>(std::move(*backend), options);
    return store_.get();
  }

 private:
  const std::string dir_;
  std::unique_ptr<KvProfileStore> store_;
};

INSTANTIATE_TYPED_TEST_SUITE_P(RocksDb, ProfileStoreContract, RocksEnv);

TEST(RocksDbStoreTest, ResealReadsAProfileAgainWhenItChangedMeanwhile) {
  const std::string dir = FreshDir("reseal");
  auto opened = RocksDbBackend::Open(dir, {});
  ASSERT_TRUE(opened.ok()) << opened.status();
  std::shared_ptr<KvBackend> db = std::move(*opened);
  ProfileStoreOptions old_key;
  old_key.cipher = TestCipher('o', "key-2025");
  // A replica still on the old key.
  KvProfileStore old_store(std::make_unique<HookedBackend>(db), old_key);
  ASSERT_TRUE(old_store.Put(SampleProfile("acme", "alice"), 0).ok());

  const ProfileStoreOptions options = RotatedKeyOptions();
  auto backend = std::make_unique<HookedBackend>(db);
  HookedBackend* hooks = backend.get();
  KvProfileStore store(std::move(backend), options);
  // Between the reseal's read and its write the old replica appends.
  hooks->RunOnceInNextTransact(HookedBackend::When::kBeforeTransact, [&] {
    ASSERT_TRUE(old_store.AppendFeatures("acme", "alice", {{9, 9, 9, 9}}).ok());
  });
  auto report = store.Reseal(NeverStop);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->resealed, 3);
  EXPECT_FALSE(hooks->hook_pending());

  ProfileStoreOptions new_only;
  new_only.cipher = TestCipher('n', "key-2026");
  KvProfileStore reopened(std::make_unique<HookedBackend>(db), new_only);
  auto got = reopened.Get("acme", "alice");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->version, 2u);
  ASSERT_EQ(got->bank.features.size(), 3u);
  EXPECT_EQ(got->bank.features.back(), (std::vector<float>{9, 9, 9, 9}));
  db.reset();
  std::filesystem::remove_all(dir);
}

TEST(RocksDbStoreTest, OpenedByUrlAndPersistsAcrossReopen) {
  const std::string dir = FreshDir("url");
  {
    auto store = OpenProfileStore("rocksdb://" + dir, {});
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->Describe(), "rocksdb://" + dir);
    ASSERT_TRUE((*store)->Put(SampleProfile("acme", "alice"), 0).ok());
  }
  auto store = OpenProfileStore("rocksdb://" + dir, {});
  ASSERT_TRUE(store.ok());
  auto got = (*store)->Get("acme", "alice");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->translator, "weights-v1");
  store->reset();
  std::filesystem::remove_all(dir);
}

TEST(RocksDbStoreTest, SecondOpenOfTheSameDatabaseIsUnavailable) {
  const std::string dir = FreshDir("locked");
  auto first = OpenProfileStore("rocksdb://" + dir, {});
  ASSERT_TRUE(first.ok());
  auto second = OpenProfileStore("rocksdb://" + dir, {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(second.status().message(), dir)) << second.status();
  first->reset();
  std::filesystem::remove_all(dir);
}

TEST(RocksDbStoreTest, BadUrlsAreRefused) {
  EXPECT_EQ(OpenProfileStore("rocksdb://relative/path", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenProfileStore("mysql://x", {}).status().code(), absl::StatusCode::kInvalidArgument);
  ProfileStoreOptions no_create;
  no_create.rocksdb_create_if_missing = false;
  auto missing = OpenProfileStore("rocksdb://" + FreshDir("missing"), no_create);
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace fer::testing
