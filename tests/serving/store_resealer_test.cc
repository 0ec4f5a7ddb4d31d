#include "lib/serving/store_resealer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "lib/store/profile_store.h"
#include "lib/store/record_cipher.h"
#include "tests/log_lines.h"
#include "tests/poll_until.h"

namespace fer {
namespace {

using testing::LogLines;

// Waits up to 10 s for a line holding `text`.
bool WaitFor(const LogLines& log, absl::string_view text) {
  return testing::PollUntil([&] { return log.Count(text) > 0; }, std::chrono::seconds(10));
}

StoreResealerOptions RetryEvery(absl::Duration retry) {
  StoreResealerOptions options;
  options.retry = retry;
  return options;
}

StoreResealerOptions ProgressEvery(absl::Duration interval) {
  StoreResealerOptions options;
  options.progress_interval = interval;
  return options;
}

// A store whose Reseal answers from a script; everything else is unused.
class ScriptedStore : public ProfileStore {
 public:
  std::string Describe() const override { return "scripted"; }
  absl::Status Ping() override { return absl::OkStatus(); }
  absl::StatusOr<Profile> Get(absl::string_view, absl::string_view, uint32_t) override {
    return absl::UnimplementedError("unused");
  }
  absl::StatusOr<uint64_t> Put(const Profile&, uint64_t) override {
    return absl::UnimplementedError("unused");
  }
  absl::StatusOr<Profile> AppendFeatures(absl::string_view, absl::string_view,
                                         const std::vector<std::vector<float>>&) override {
    return absl::UnimplementedError("unused");
  }
  absl::StatusOr<int64_t> Delete(absl::string_view, absl::string_view) override {
    return absl::UnimplementedError("unused");
  }
  absl::StatusOr<std::vector<std::string>> ListKeys(absl::string_view) override {
    return absl::UnimplementedError("unused");
  }
  absl::StatusOr<ResealReport> Reseal(ResealGoOn go_on) override {
    const int call = calls++;
    if (until_stopped) {
      // One profile and one record resealed every millisecond.
      ResealReport so_far;
      while (go_on(so_far)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ++so_far.profiles;
        ++so_far.records;
        ++so_far.resealed;
      }
      so_far.stopped = true;
      return so_far;
    }
    if (call < unavailable_calls) return absl::UnavailableError("redis://db:6379 is down");
    if (!error.ok()) return error;
    return report;
  }

  std::atomic<int> calls{0};
  int unavailable_calls = 0;
  absl::Status error;
  ResealReport report;
  bool until_stopped = false;
};

TEST(StoreResealerTest, ResealsARealStoreAndSaysOlderKeysAreNoLongerNeeded) {
  const std::string dir = std::string(::testing::TempDir()) + "resealer_store";
  std::filesystem::remove_all(dir);
  auto old_cipher = RecordCipher::FromKey(std::string(32, 'o'), "key-2025");
  {
    ProfileStoreOptions options;
    options.cipher = std::shared_ptr<const RecordCipher>(std::move(*old_cipher));
    auto store = OpenProfileStore("rocksdb://" + dir, options);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->AppendFeatures("acme", "alice", {{1, 2, 3, 4}}).ok());
  }
  auto cipher = RecordCipher::FromKey(std::string(32, 'n'), "key-2026");
  ASSERT_TRUE((*cipher)->AddDecryptionKey(std::string(32, 'o'), "key-2025").ok());
  ProfileStoreOptions options;
  options.cipher = std::shared_ptr<const RecordCipher>(std::move(*cipher));
  auto store = OpenProfileStore("rocksdb://" + dir, options);
  ASSERT_TRUE(store.ok()) << store.status();
  LogLines log;
  {
    StoreResealer resealer(store->get(), "key-2026", log.sink());
    ASSERT_TRUE(WaitFor(log, "store: resealed")) << ::testing::PrintToString(log.lines());
  }
  const std::vector<std::string> lines = log.lines();
  ASSERT_EQ(lines.size(), 2u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0], "store: resealing every record with key key-2026");
  EXPECT_TRUE(absl::StrContains(lines[1], "resealed 1 profiles: 2 of 2 records")) << lines[1];
  EXPECT_TRUE(absl::StrContains(lines[1], "older keys are no longer needed")) << lines[1];
  store->reset();

  // The new key alone reads the profile now.
  ProfileStoreOptions new_only;
  new_only.cipher = std::shared_ptr<const RecordCipher>(
      std::move(*RecordCipher::FromKey(std::string(32, 'n'), "key-2026")));
  auto reopened = OpenProfileStore("rocksdb://" + dir, new_only);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto alice = (*reopened)->Get("acme", "alice");
  ASSERT_TRUE(alice.ok()) << alice.status();
  EXPECT_EQ(alice->bank.features, (std::vector<std::vector<float>>{{1, 2, 3, 4}}));
  reopened->reset();
  std::filesystem::remove_all(dir);
}

TEST(StoreResealerTest, TriesAgainWhileTheStoreIsUnavailable) {
  ScriptedStore store;
  store.unavailable_calls = 2;
  store.report.profiles = 3;
  store.report.records = 9;
  store.report.resealed = 4;
  LogLines log;
  StoreResealer resealer(&store, "k2", log.sink(), RetryEvery(absl::Milliseconds(5)));
  ASSERT_TRUE(WaitFor(log, "store: resealed")) << ::testing::PrintToString(log.lines());
  EXPECT_EQ(store.calls, 3);
  const std::vector<std::string> lines = log.lines();
  ASSERT_EQ(lines.size(), 4u) << ::testing::PrintToString(lines);
  EXPECT_TRUE(absl::StrContains(lines[1], "redis://db:6379 is down; trying again in 5ms"))
      << lines[1];
  EXPECT_EQ(lines[3],
            "store: resealed 3 profiles: 4 of 9 records sealed again with key k2; every record "
            "is on key k2: once every replica seals with it, older keys are no longer needed");
}

TEST(StoreResealerTest, ProfilesItCouldNotOpenMeanOlderKeysAreStillNeeded) {
  ScriptedStore store;
  store.report.profiles = 2;
  store.report.failed_profiles = 1;
  store.report.first_error = absl::PermissionDeniedError("record fer/v1/t/u/meta: key id 'x'");
  LogLines log;
  StoreResealer resealer(&store, "k2", log.sink());
  ASSERT_TRUE(WaitFor(log, "store: resealed")) << ::testing::PrintToString(log.lines());
  const std::string last = log.lines().back();
  EXPECT_TRUE(absl::StrContains(last, "1 profiles left as they were (older keys still needed)"))
      << last;
  EXPECT_TRUE(absl::StrContains(last, "key id 'x'")) << last;
  EXPECT_FALSE(absl::StrContains(last, "no longer needed")) << last;
}

TEST(StoreResealerTest, OtherErrorsAreReportedOnceWithoutRetrying) {
  ScriptedStore store;
  store.error = absl::FailedPreconditionError("resealing needs an encryption key");
  LogLines log;
  {
    StoreResealer resealer(&store, "k2", log.sink(), RetryEvery(absl::Milliseconds(1)));
    ASSERT_TRUE(WaitFor(log, "resealing failed")) << ::testing::PrintToString(log.lines());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(store.calls, 1);
  EXPECT_EQ(log.Count("trying again"), 0);
}

TEST(StoreResealerTest, ReportsProgressUntilDestructionStopsIt) {
  ScriptedStore running;
  running.until_stopped = true;
  LogLines log;
  {
    StoreResealer resealer(&running, "k2", log.sink(), ProgressEvery(absl::Milliseconds(20)));
    ASSERT_TRUE(testing::PollUntil([&] { return log.Count("profiles so far") >= 2; },
                                   std::chrono::seconds(10)));
  }
  const std::vector<std::string> lines = log.lines();
  ASSERT_GE(lines.size(), 4u) << ::testing::PrintToString(lines);
  EXPECT_TRUE(absl::StartsWith(lines[1], "store: resealing: ")) << lines[1];
  EXPECT_TRUE(absl::StrContains(lines[1], " records sealed again")) << lines[1];
  const std::string& last = lines.back();
  EXPECT_TRUE(absl::StartsWith(last, "store: resealing stopped after ")) << last;
  EXPECT_TRUE(absl::StrContains(last, "the next start with --store_reseal goes on")) << last;
}

TEST(StoreResealerTest, DestructionDoesNotWaitForTheNextTry) {
  LogLines log;

  ScriptedStore down;
  down.unavailable_calls = 1000;
  {
    // An hour between tries: the destructor must not wait for it.
    StoreResealer resealer(&down, "k2", log.sink(), RetryEvery(absl::Hours(1)));
    ASSERT_TRUE(testing::PollUntil([&] { return down.calls > 0; }, std::chrono::seconds(10)));
  }
  EXPECT_EQ(down.calls, 1);
}

}  // namespace
}  // namespace fer
