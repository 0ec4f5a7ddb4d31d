#ifndef FERSERVE_TESTS_STORE_PROFILE_STORE_CONTRACT_H_
#define FERSERVE_TESTS_STORE_PROFILE_STORE_CONTRACT_H_

// Behaviour every ProfileStore backend must show, as a typed test suite.
// A backend's test instantiates it with an environment type Env offering
//
//   KvProfileStore* Open(const ProfileStoreOptions& options);
//
// which opens a store on the same data each call (RocksDB closes the one it
// opened before; Redis keeps earlier ones open, so they are independent
// clients of one server).

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "lib/store/kv_profile_store.h"
#include "lib/store/profile_codec.h"
#include "lib/store/record_cipher.h"

namespace fer::testing {

inline Profile SampleProfile(const std::string& tenant, const std::string& user,
                             const std::string& translator = "weights-v1") {
  Profile p;
  p.tenant = tenant;
  p.user_id = user;
  p.bank.dim = 4;
  p.bank.max_count = 8;
  p.bank.features = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  p.translator = translator;
  p.backbone_id = "face-api-expression";
  p.adapted_unix_ms = 1700000000000;
  p.quality = {0.3, 0.9, 0.02, 2, 100, false};
  return p;
}

inline std::shared_ptr<const RecordCipher> TestCipher(char fill, const std::string& id = "") {
  auto cipher = RecordCipher::FromKey(std::string(32, fill), id);
  return std::shared_ptr<const RecordCipher>(std::move(*cipher));
}

// Writes raw bytes under `key`, bypassing encoding and encryption.
inline void PlantRecord(KvProfileStore* store, const std::string& key, const std::string& value) {
  ASSERT_TRUE(
      store->backend()
          ->Transact(
              key,
              [&](const std::optional<std::string>&) -> absl::StatusOr<std::vector<KvWrite>> {
                return std::vector<KvWrite>{{key, value}};
              })
          .ok());
}

template <typename Env>
class ProfileStoreContract : public ::testing::Test {
 protected:
  KvProfileStore* Open(const ProfileStoreOptions& options = {}) { return env_.Open(options); }
  Env env_;
};

TYPED_TEST_SUITE_P(ProfileStoreContract);

TYPED_TEST_P(ProfileStoreContract, RoundTrip) {
  KvProfileStore* store = this->Open();
  ASSERT_TRUE(store->Ping().ok());
  const Profile p = SampleProfile("acme", "alice");
  auto version = store->Put(p, 0);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1u);
  auto got = store->Get("acme", "alice");
  ASSERT_TRUE(got.ok()) << got.status();
  Profile expected = p;
  expected.version = 1;
  expected.translator_version = 1;
  expected.created_unix_ms = got->created_unix_ms;
  expected.updated_unix_ms = got->updated_unix_ms;
  expected.enrolled_features = 2;
  EXPECT_GT(got->created_unix_ms, 0);
  EXPECT_EQ(*got, expected);

  auto meta = store->Get("acme", "alice", kProfileMeta);
  ASSERT_TRUE(meta.ok());
  EXPECT_TRUE(meta->bank.features.empty());
  EXPECT_EQ(meta->enrolled_features, 2u);  // Counted without reading the bank.
  EXPECT_EQ(meta->bank.dim, 4u);
  EXPECT_TRUE(meta->translator.empty());
  EXPECT_EQ(meta->translator_version, 1u);

  auto missing = store->Get("acme", "nobody");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "nobody")) << missing.status();
}

TYPED_TEST_P(ProfileStoreContract, PutIsCompareAndSet) {
  KvProfileStore* store = this->Open();
  const Profile p = SampleProfile("acme", "alice");
  ASSERT_TRUE(store->Put(p, 0).ok());
  const int64_t created_unix_ms = store->Get("acme", "alice", kProfileMeta)->created_unix_ms;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto again = store->Put(p, 0);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(absl::StrContains(again.status().message(), "expected version 0, stored version 1"))
      << again.status();
  EXPECT_EQ(store->Put(p, 5).status().code(), absl::StatusCode::kAborted);
  auto next = store->Put(p, 1);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 2u);
  // Created time survives updates.
  auto got = store->Get("acme", "alice", kProfileMeta);
  EXPECT_EQ(got->created_unix_ms, created_unix_ms);
  EXPECT_GT(got->updated_unix_ms, got->created_unix_ms);
}

TYPED_TEST_P(ProfileStoreContract, PreviousTranslatorStaysReadable) {
  KvProfileStore* store = this->Open();
  const std::string prefix = ProfileKeyPrefix("acme", "alice");
  ASSERT_TRUE(store->Put(SampleProfile("acme", "alice", "A"), 0).ok());
  ASSERT_TRUE(store->Put(SampleProfile("acme", "alice", "B"), 1).ok());
  auto keys = store->ListKeys(prefix + "translator/");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{prefix + "translator/1", prefix + "translator/2"}));
  ASSERT_TRUE(store->Put(SampleProfile("acme", "alice", "C"), 2).ok());
  keys = store->ListKeys(prefix + "translator/");
  EXPECT_EQ(*keys, (std::vector<std::string>{prefix + "translator/2", prefix + "translator/3"}));

  // Metadata-only update keeps translator 3 without rewriting it.
  auto meta = store->Get("acme", "alice", kProfileFeatures);
  ASSERT_TRUE(meta.ok());
  meta->quality.steps = 999;
  ASSERT_TRUE(store->Put(*meta, meta->version).ok());
  auto got = store->Get("acme", "alice");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version, 4u);
  EXPECT_EQ(got->translator, "C");
  EXPECT_EQ(got->translator_version, 3u);
  EXPECT_EQ(got->quality.steps, 999u);
  keys = store->ListKeys(prefix + "translator/");
  EXPECT_EQ(*keys, (std::vector<std::string>{prefix + "translator/2", prefix + "translator/3"}));

  // Keeping a translator version that is not the stored one is refused.
  meta->translator_version = 2;
  EXPECT_EQ(store->Put(*meta, 4).status().code(), absl::StatusCode::kFailedPrecondition);
}

TYPED_TEST_P(ProfileStoreContract, ConcurrentPutsOnlyOneWins) {
  KvProfileStore* a = this->Open();
  KvProfileStore* b = TypeParam::kIndependentInstances ? this->Open() : a;
  ASSERT_TRUE(a->Put(SampleProfile("acme", "alice"), 0).ok());
  for (int round = 0; round < 10; ++round) {
    const uint64_t version = a->Get("acme", "alice", kProfileMeta)->version;
    std::atomic<int> wins{0};
    std::atomic<int> conflicts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        KvProfileStore* store = t % 2 ? a : b;
        auto v = store->Put(SampleProfile("acme", "alice", "T" + std::to_string(t)), version);
        if (v.ok()) {
          ++wins;
        } else if (absl::IsAborted(v.status())) {
          ++conflicts;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(wins.load(), 1);
    EXPECT_EQ(conflicts.load(), 7);
    EXPECT_EQ(a->Get("acme", "alice", kProfileMeta)->version, version + 1);
  }
}

TYPED_TEST_P(ProfileStoreContract, ConcurrentAppendsNeverLoseUpdates) {
  ProfileStoreOptions options;
  options.max_features = 1000;
  KvProfileStore* a = this->Open(options);
  KvProfileStore* b = TypeParam::kIndependentInstances ? this->Open(options) : a;
  constexpr int kThreads = 4;
  constexpr int kAppends = 15;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      KvProfileStore* store = t % 2 ? a : b;
      for (int i = 0; i < kAppends; ++i) {
        auto p = store->AppendFeatures("acme", "bob", {{float(t), float(i)}});
        if (!p.ok()) {
          ++failures;
          ADD_FAILURE() << p.status();
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = a->Get("acme", "bob");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version, uint64_t{kThreads * kAppends});
  ASSERT_EQ(got->bank.features.size(), size_t{kThreads * kAppends});
  std::set<std::pair<int, int>> seen;
  std::vector<int> last(kThreads, -1);
  for (const std::vector<float>& f : got->bank.features) {
    seen.insert({int(f[0]), int(f[1])});
    // Each thread's features appear in its order.
    EXPECT_GT(int(f[1]), last[int(f[0])]);
    last[int(f[0])] = int(f[1]);
  }
  EXPECT_EQ(seen.size(), size_t{kThreads * kAppends});
}

TYPED_TEST_P(ProfileStoreContract, AppendFeaturesBoundsAndChecksTheBank) {
  ProfileStoreOptions options;
  options.max_features = 3;
  KvProfileStore* store = this->Open(options);
  for (int i = 0; i < 5; ++i) {
    auto p = store->AppendFeatures("acme", "carol", {{float(i), 0, 0}});
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->version, uint64_t(i + 1));
    EXPECT_EQ(p->enrolled_features, uint32_t(std::min(i + 1, 3)));
    EXPECT_EQ(store->Get("acme", "carol", kProfileMeta)->enrolled_features, p->enrolled_features);
  }
  auto got = store->Get("acme", "carol");
  ASSERT_EQ(got->bank.features.size(), 3u);
  EXPECT_EQ(got->bank.features.front()[0], 2);
  EXPECT_EQ(got->bank.features.back()[0], 4);
  auto bad = store->AppendFeatures("acme", "carol", {{1, 2}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "dimension 3")) << bad.status();
  // The translator is untouched by appends.
  Profile with_translator = *got;
  with_translator.translator = "W";
  ASSERT_TRUE(store->Put(with_translator, got->version).ok());
  ASSERT_TRUE(store->AppendFeatures("acme", "carol", {{9, 9, 9}}).ok());
  EXPECT_EQ(store->Get("acme", "carol")->translator, "W");
}

TYPED_TEST_P(ProfileStoreContract, DeleteRemovesEveryRecordOfTheUserOnly) {
  KvProfileStore* store = this->Open();
  for (const char* user : {"alice", "alic", "alice2", "bob"}) {
    ASSERT_TRUE(store->Put(SampleProfile("t1", user, "A"), 0).ok());
    ASSERT_TRUE(store->Put(SampleProfile("t1", user, "B"), 1).ok());
  }
  ASSERT_TRUE(store->Put(SampleProfile("t2", "alice"), 0).ok());
  auto before = store->ListKeys("fer/v1/");
  ASSERT_TRUE(before.ok());
  auto own = store->ListKeys(ProfileKeyPrefix("t1", "alice"));
  ASSERT_EQ(own->size(), 4u);  // meta, features, translator/1, translator/2.

  auto removed = store->Delete("t1", "alice");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 4);
  EXPECT_TRUE(store->ListKeys(ProfileKeyPrefix("t1", "alice"))->empty());
  auto after = store->ListKeys("fer/v1/");
  EXPECT_EQ(after->size(), before->size() - 4);
  for (const std::string& key : *after) {
    EXPECT_FALSE(absl::StartsWith(key, "fer/v1/t1/alice/")) << key;
  }
  EXPECT_EQ(store->Get("t1", "alice").status().code(), absl::StatusCode::kNotFound);
  for (const char* user : {"alic", "alice2", "bob"}) {
    EXPECT_EQ(store->Get("t1", user)->translator, "B") << user;
  }
  EXPECT_TRUE(store->Get("t2", "alice").ok());
  EXPECT_EQ(*store->Delete("t1", "alice"), 0);
}

TYPED_TEST_P(ProfileStoreContract, TenantsAreIsolated) {
  KvProfileStore* store = this->Open();
  ASSERT_TRUE(store->Put(SampleProfile("t1", "sam", "one"), 0).ok());
  ASSERT_TRUE(store->Put(SampleProfile("t2", "sam", "two"), 0).ok());
  EXPECT_EQ(store->Get("t1", "sam")->translator, "one");
  EXPECT_EQ(store->Get("t2", "sam")->translator, "two");
  EXPECT_EQ(*store->Delete("t1", "sam"), 3);
  EXPECT_EQ(store->Get("t2", "sam")->translator, "two");
  // A record copied from another tenant is refused.
  auto t2_meta = store->backend()->MultiGet({ProfileMetaKey("t2", "sam")});
  PlantRecord(store, ProfileMetaKey("t1", "sam"), *(*t2_meta)[0]);
  auto copied = store->Get("t1", "sam", kProfileMeta);
  EXPECT_EQ(copied.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(copied.status().message(), "belongs to")) << copied.status();
}

TYPED_TEST_P(ProfileStoreContract, InvalidIdsAreRefused) {
  KvProfileStore* store = this->Open();
  EXPECT_EQ(store->Get("acme", "a/b").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Get("", "a").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Get("a*", "a").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Delete("acme", "..\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Put(SampleProfile("acme", std::string(200, 'x')), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TYPED_TEST_P(ProfileStoreContract, CorruptRecordsGiveClearErrors) {
  KvProfileStore* store = this->Open();
  ASSERT_TRUE(store->Put(SampleProfile("acme", "dan"), 0).ok());
  const std::string meta_key = ProfileMetaKey("acme", "dan");
  auto meta = store->backend()->MultiGet({meta_key});
  std::string flipped = *(*meta)[0];
  flipped[flipped.size() / 2] ^= 0x10;
  PlantRecord(store, meta_key, flipped);
  auto got = store->Get("acme", "dan");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(got.status().message(), meta_key)) << got.status();
  EXPECT_TRUE(absl::StrContains(got.status().message(), "checksum")) << got.status();
  // A corrupt profile can still be erased.
  EXPECT_EQ(*store->Delete("acme", "dan"), 3);

  ASSERT_TRUE(store->Put(SampleProfile("acme", "dan"), 0).ok());
  PlantRecord(store, ProfileFeaturesKey("acme", "dan"), "not a record at all");
  got = store->Get("acme", "dan");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(got.status().message(), "features")) << got.status();

  // A well-formed features record whose count disagrees with the metadata's
  // (a record of another version of the profile) is refused, not served.
  EXPECT_EQ(*store->Delete("acme", "dan"), 3);
  Profile dan = SampleProfile("acme", "dan");
  ASSERT_TRUE(store->Put(dan, 0).ok());
  dan.bank.features.pop_back();
  PlantRecord(store, ProfileFeaturesKey("acme", "dan"), EncodeFeatureBank(dan.bank));
  got = store->Get("acme", "dan");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(got.status().message(), "holds 1 features")) << got.status();
  EXPECT_EQ(store->Get("acme", "dan", kProfileMeta)->enrolled_features, 2u);
}

TYPED_TEST_P(ProfileStoreContract, EncryptsAtRestAndRefusesWrongKeys) {
  ProfileStoreOptions options;
  options.cipher = TestCipher('k', "key-2025");
  {
    KvProfileStore* store = this->Open(options);
    ASSERT_TRUE(store->Put(SampleProfile("acme", "eve", "secret-weights"), 0).ok());
    ASSERT_TRUE(store->Put(SampleProfile("acme", "mallory", "other-weights"), 0).ok());
    EXPECT_EQ(store->Get("acme", "eve")->translator, "secret-weights");
    auto keys = store->ListKeys(ProfileKeyPrefix("acme", "eve"));
    auto values = store->backend()->MultiGet(*keys);
    for (const auto& v : *values) {
      ASSERT_TRUE(v.has_value());
      EXPECT_TRUE(RecordCipher::IsSealed(*v));
      EXPECT_EQ(RecordCipher::SealedKeyId(*v), "key-2025");
      EXPECT_FALSE(absl::StrContains(*v, "secret-weights"));
      EXPECT_FALSE(absl::StrContains(*v, "face-api"));
    }
    // Swapping records between users fails authentication.
    auto mallory = store->backend()->MultiGet({ProfileMetaKey("acme", "mallory")});
    PlantRecord(store, ProfileMetaKey("acme", "eve"), *(*mallory)[0]);
    auto swapped = store->Get("acme", "eve");
    EXPECT_EQ(swapped.status().code(), absl::StatusCode::kPermissionDenied) << swapped.status();
  }
  {
    ProfileStoreOptions wrong;
    wrong.cipher = TestCipher('w', "key-2025");
    auto got = this->Open(wrong)->Get("acme", "mallory");
    EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_TRUE(absl::StrContains(got.status().message(), "wrong key")) << got.status();
  }
  {
    ProfileStoreOptions other_id;
    other_id.cipher = TestCipher('k', "key-2026");
    auto got = this->Open(other_id)->Get("acme", "mallory");
    EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_TRUE(absl::StrContains(got.status().message(), "key-2025")) << got.status();
  }
  {
    auto got = this->Open()->Get("acme", "mallory");
    EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(absl::StrContains(got.status().message(), "no encryption key")) << got.status();
  }
  {
    KvProfileStore* plain = this->Open();
    ASSERT_TRUE(plain->Put(SampleProfile("acme", "plain"), 0).ok());
    auto got = this->Open(options)->Get("acme", "plain");
    EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_TRUE(absl::StrContains(got.status().message(), "not encrypted")) << got.status();
  }
}

inline bool NeverStop(const ResealReport&) { return true; }

// After a key rotation: sealing with key-2026 (TestCipher('n')), opening
// key-2025's records (TestCipher('o')) too.
inline ProfileStoreOptions RotatedKeyOptions() {
  auto rotated = RecordCipher::FromKey(std::string(32, 'n'), "key-2026");
  EXPECT_TRUE((*rotated)->AddDecryptionKey(std::string(32, 'o'), "key-2025").ok());
  ProfileStoreOptions options;
  options.cipher = std::shared_ptr<const RecordCipher>(std::move(*rotated));
  return options;
}

// The raw stored values of a profile's records.
inline std::map<std::string, std::string> RawRecords(KvProfileStore* store,
                                                     const std::string& tenant,
                                                     const std::string& user) {
  std::map<std::string, std::string> out;
  auto keys = store->ListKeys(ProfileKeyPrefix(tenant, user));
  if (!keys.ok()) return out;
  auto values = store->backend()->MultiGet(*keys);
  for (size_t i = 0; values.ok() && i < keys->size(); ++i) {
    if ((*values)[i].has_value()) out[(*keys)[i]] = *(*values)[i];
  }
  return out;
}

TYPED_TEST_P(ProfileStoreContract, ResealMovesEveryRecordToTheCurrentKey) {
  ProfileStoreOptions old_key;
  old_key.cipher = TestCipher('o', "key-2025");
  {
    KvProfileStore* store = this->Open(old_key);
    ASSERT_TRUE(store->Put(SampleProfile("acme", "ann", "weights-a"), 0).ok());
    // Two translator versions: the previous one stays stored too.
    ASSERT_TRUE(store->Put(SampleProfile("acme", "ann", "weights-b"), 1).ok());
    ASSERT_TRUE(store->Put(SampleProfile("zeta", "bob"), 0).ok());
  }
  {
    KvProfileStore* plain = this->Open();  // Written before encryption was on.
    ASSERT_TRUE(plain->Put(SampleProfile("acme", "cid", "plain-weights"), 0).ok());
  }
  const ProfileStoreOptions options = RotatedKeyOptions();
  KvProfileStore* store = this->Open(options);
  const Profile ann_before = *store->Get("acme", "ann");
  const Profile bob_before = *store->Get("zeta", "bob");
  // Already current: left as it is.
  ASSERT_TRUE(store->Put(SampleProfile("acme", "dee"), 0).ok());
  const auto dee_before = RawRecords(store, "acme", "dee");

  auto stopped = store->Reseal([](const ResealReport&) { return false; });
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->stopped);
  EXPECT_EQ(stopped->profiles, 0);

  auto report = store->Reseal(NeverStop);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->stopped);
  EXPECT_EQ(report->profiles, 4);
  EXPECT_EQ(report->records, 4 + 3 + 3 + 3);
  EXPECT_EQ(report->resealed, 4 + 3 + 3);
  EXPECT_EQ(report->failed_profiles, 0);
  EXPECT_TRUE(report->first_error.ok()) << report->first_error;
  EXPECT_EQ(RawRecords(store, "acme", "dee"), dee_before);

  // The current key alone now opens everything, contents unchanged.
  ProfileStoreOptions new_only;
  new_only.cipher = TestCipher('n', "key-2026");
  KvProfileStore* reopened = this->Open(new_only);
  for (const auto& [tenant, user] : std::vector<std::pair<std::string, std::string>>{
           {"acme", "ann"}, {"zeta", "bob"}, {"acme", "cid"}, {"acme", "dee"}}) {
    for (const auto& [key, value] : RawRecords(reopened, tenant, user)) {
      EXPECT_EQ(RecordCipher::SealedKeyId(value), "key-2026") << key;
    }
  }
  EXPECT_EQ(*reopened->Get("acme", "ann"), ann_before);
  EXPECT_EQ(*reopened->Get("zeta", "bob"), bob_before);
  EXPECT_EQ(reopened->Get("acme", "cid")->translator, "plain-weights");
  auto previous = reopened->backend()->MultiGet({ProfileTranslatorKey("acme", "ann", 1)});
  ASSERT_TRUE(previous.ok() && (*previous)[0].has_value());
  EXPECT_EQ(RecordCipher::SealedKeyId(*(*previous)[0]), "key-2026");

  // Nothing left to do.
  auto again = reopened->Reseal(NeverStop);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->resealed, 0);
  EXPECT_EQ(again->profiles, 4);
}

TYPED_TEST_P(ProfileStoreContract, ResealLeavesProfilesItCannotOpen) {
  ProfileStoreOptions lost_key;
  lost_key.cipher = TestCipher('l', "lost");
  ASSERT_TRUE(this->Open(lost_key)->Put(SampleProfile("acme", "lost"), 0).ok());
  {
    KvProfileStore* plain = this->Open();
    ASSERT_TRUE(plain->Put(SampleProfile("acme", "plain"), 0).ok());
    ASSERT_TRUE(plain->Put(SampleProfile("acme", "swapped"), 0).ok());
    ASSERT_TRUE(plain->Put(SampleProfile("beta", "other"), 0).ok());
  }
  ProfileStoreOptions options;
  options.cipher = TestCipher('n', "key-2026");
  KvProfileStore* store = this->Open(options);
  const auto lost_before = RawRecords(store, "acme", "lost");
  // A plain record that does not decode is never sealed, nor one that
  // decodes as another user's.
  PlantRecord(store, ProfileFeaturesKey("acme", "plain"), "not a feature bank");
  const auto other_meta = RawRecords(store, "beta", "other").at(ProfileMetaKey("beta", "other"));
  PlantRecord(store, ProfileMetaKey("acme", "swapped"), other_meta);
  ASSERT_TRUE(store->Put(SampleProfile("acme", "ok"), 0).ok());

  auto report = store->Reseal(NeverStop);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->profiles, 5);
  EXPECT_EQ(report->failed_profiles, 3);
  EXPECT_EQ(report->first_error.code(), absl::StatusCode::kPermissionDenied) << report->first_error;
  EXPECT_TRUE(absl::StrContains(report->first_error.message(), "lost"));
  EXPECT_EQ(RawRecords(store, "acme", "lost"), lost_before);
  for (const std::string user : {"plain", "swapped"}) {
    for (const auto& [key, value] : RawRecords(store, "acme", user)) {
      EXPECT_FALSE(RecordCipher::IsSealed(value)) << key;
    }
  }
  for (const auto& [key, value] : RawRecords(store, "beta", "other")) {
    EXPECT_EQ(RecordCipher::SealedKeyId(value), "key-2026") << key;
  }

  auto unkeyed = this->Open()->Reseal(NeverStop);
  EXPECT_EQ(unkeyed.status().code(), absl::StatusCode::kFailedPrecondition);
}

TYPED_TEST_P(ProfileStoreContract, ResealNeverLosesConcurrentWrites) {
  ProfileStoreOptions old_key;
  old_key.cipher = TestCipher('o', "key-2025");
  KvProfileStore* old_store = this->Open(old_key);
  constexpr int kUsers = 6;
  for (int u = 0; u < kUsers; ++u) {
    ASSERT_TRUE(old_store->Put(SampleProfile("acme", "u" + std::to_string(u)), 0).ok());
  }
  const ProfileStoreOptions options = RotatedKeyOptions();
  KvProfileStore* store = this->Open(options);
  // Appends race resealing; every appended feature must survive.
  constexpr int kAppends = 20;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kAppends; ++i) {
      for (int u = 0; u < kUsers; ++u) {
        const float f = static_cast<float>(100 + i);
        EXPECT_TRUE(store->AppendFeatures("acme", "u" + std::to_string(u), {{f, f, f, f}}).ok());
      }
    }
    done = true;
  });
  do {
    auto report = store->Reseal(NeverStop);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->failed_profiles, 0) << report->first_error;
  } while (!done);
  writer.join();
  ASSERT_TRUE(store->Reseal(NeverStop).ok());
  ProfileStoreOptions new_only;
  new_only.cipher = TestCipher('n', "key-2026");
  KvProfileStore* reopened = this->Open(new_only);
  for (int u = 0; u < kUsers; ++u) {
    auto got = reopened->Get("acme", "u" + std::to_string(u));
    ASSERT_TRUE(got.ok()) << got.status();
    // The bank keeps the newest 8: the last kAppends values.
    ASSERT_EQ(got->bank.features.size(), 8u);
    EXPECT_EQ(got->bank.features.back()[0], 100.0f + kAppends - 1);
    EXPECT_EQ(got->version, 1u + kAppends);
  }
}

REGISTER_TYPED_TEST_SUITE_P(ProfileStoreContract, RoundTrip, PutIsCompareAndSet,
                            PreviousTranslatorStaysReadable, ConcurrentPutsOnlyOneWins,
                            ConcurrentAppendsNeverLoseUpdates, AppendFeaturesBoundsAndChecksTheBank,
                            DeleteRemovesEveryRecordOfTheUserOnly, TenantsAreIsolated,
                            InvalidIdsAreRefused, CorruptRecordsGiveClearErrors,
                            EncryptsAtRestAndRefusesWrongKeys,
                            ResealMovesEveryRecordToTheCurrentKey, ResealLeavesProfilesItCannotOpen,
                            ResealNeverLosesConcurrentWrites);

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_STORE_PROFILE_STORE_CONTRACT_H_
