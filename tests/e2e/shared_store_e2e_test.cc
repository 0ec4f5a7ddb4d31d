// End-to-end: two ferserve replicas sharing one real redis-server. A user
// enrolled on one replica is adapted on the other and served personalized by
// both; a deletion on one reaches the other within the staleness bound; with
// Redis down each replica follows its store-failure policy, and both recover
// when Redis comes back on the same port.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/personalization_client.h"
#include "tests/process_temp_dir.h"
#include "tests/store/redis_server.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;
using testing::EnrollFrames;
using testing::PredictFrames;
using testing::RunAdapt;

constexpr char kStaleness[] = "300ms";

void WaitPastStaleness() { std::this_thread::sleep_for(std::chrono::milliseconds(450)); }

class SharedStoreE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Redis with an fsync'ed append-only file, so a killed and restarted
    // Redis still has the profiles.
    data_dir_ = testing::ProcessTempDir() + "shared_store_redis_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(data_dir_);
    std::filesystem::create_directories(data_dir_);
    redis_ = std::make_unique<testing::RedisServer>(std::vector<std::string>{
        "--appendonly", "yes", "--appendfsync", "always", "--dir", data_dir_});
    ASSERT_TRUE(redis_->ok());
    for (auto* replica : {&a_, &b_}) {
      *replica = std::make_unique<testing::FerserveProcess>(std::vector<std::string>{
          "--store=" + redis_->url(), "--pft_bundle=" + testing::PftBundlePath(),
          std::string("--profile_staleness=") + kStaleness});
      ASSERT_TRUE((*replica)->ok()) << (*replica)->Log();
    }
    stub_a_ = ExpressionService::NewStub(a_->channel());
    stub_b_ = ExpressionService::NewStub(b_->channel());
    neutral_ = testing::VideoFrames("franck.mp4", 0, 24, 20);
    later_ = testing::VideoFrames("franck.mp4", 2000, 2, 300);
    ASSERT_EQ(neutral_.size(), 24u);
    ASSERT_EQ(later_.size(), 2u);
  }
  void TearDown() override {
    for (auto* replica : {&a_, &b_}) {
      if (*replica) EXPECT_TRUE((*replica)->running()) << (*replica)->Log();
    }
    a_.reset();
    b_.reset();
    redis_.reset();
    std::filesystem::remove_all(data_dir_);
  }

  std::string data_dir_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<testing::FerserveProcess> a_, b_;
  std::unique_ptr<ExpressionService::Stub> stub_a_, stub_b_;
  std::vector<std::string> neutral_, later_;
};

TEST_F(SharedStoreE2eTest, EnrollOnAAdaptOnBPredictOnADeleteOnB) {
  ASSERT_TRUE(EnrollFrames(stub_a_.get(), "shared", neutral_).status.ok());
  // A caches "no translator yet" for the user...
  const testing::PredictOutcome generic = PredictFrames(stub_a_.get(), "shared", {later_[0]});
  ASSERT_EQ(generic.responses.size(), 1u);
  EXPECT_FALSE(generic.responses[0].personalized());

  const testing::AdaptOutcome adapted = RunAdapt(stub_b_.get(), "shared");
  ASSERT_TRUE(adapted.status.ok()) << adapted.status.error_message();
  ASSERT_NE(adapted.final_message(), nullptr);
  const uint64_t version = adapted.final_message()->profile_version();
  ASSERT_GT(version, 0u);

  // ... and sees B's version once the staleness bound has passed.
  WaitPastStaleness();
  const testing::PredictOutcome personal = PredictFrames(stub_a_.get(), "shared", later_);
  ASSERT_TRUE(personal.status.ok()) << personal.status.error_message();
  ASSERT_EQ(personal.responses.size(), 2u);
  for (const fer::v1::PredictResponse& r : personal.responses) {
    EXPECT_TRUE(r.personalized()) << r.personalization_note();
    EXPECT_EQ(r.profile_version(), version);
  }
  fer::v1::Profile on_a;
  ASSERT_TRUE(testing::GetProfile(stub_a_.get(), "shared", &on_a).ok());
  EXPECT_EQ(on_a.version(), version);

  ASSERT_TRUE(testing::DeleteProfile(stub_b_.get(), "shared").ok());
  WaitPastStaleness();
  const testing::PredictOutcome erased = PredictFrames(stub_a_.get(), "shared", {later_[0]});
  ASSERT_EQ(erased.responses.size(), 1u);
  EXPECT_FALSE(erased.responses[0].personalized());
  EXPECT_EQ(testing::GetProfile(stub_a_.get(), "shared", &on_a).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(SharedStoreE2eTest, RedisDownThenBackUnderTraffic) {
  ASSERT_TRUE(EnrollFrames(stub_a_.get(), "steady", neutral_).status.ok());
  const testing::AdaptOutcome adapted = RunAdapt(stub_b_.get(), "steady");
  ASSERT_NE(adapted.final_message(), nullptr) << adapted.status.error_message();
  const uint64_t version = adapted.final_message()->profile_version();

  // A third replica that fails closed instead of falling back.
  testing::FerserveProcess strict(
      {"--store=" + redis_->url(), "--pft_bundle=" + testing::PftBundlePath(),
       std::string("--profile_staleness=") + kStaleness, "--store_failure_policy=fail"});
  ASSERT_TRUE(strict.ok()) << strict.Log();
  auto stub_strict = ExpressionService::NewStub(strict.channel());

  // One long stream on A for the adapted user, running through the outage.
  std::atomic<bool> stop{false};
  int personalized = 0, fallback = 0, other = 0;
  grpc::Status stream_status;
  std::thread traffic([&] {
    grpc::ClientContext context;
    context.set_deadline(testing::In(120));
    auto stream = stub_a_->StreamPredict(&context);
    for (int i = 0; !stop.load() && i < 2000; ++i) {
      fer::v1::PredictRequest request;
      if (i == 0) request.mutable_config()->set_user_id("steady");
      request.mutable_frame()->set_encoded(later_[i % later_.size()]);
      fer::v1::PredictResponse response;
      if (!stream->Write(request) || !stream->Read(&response)) break;
      if (response.personalized() && response.profile_version() == version) {
        ++personalized;
      } else if (response.personalization_note().find("unavailable") != std::string::npos ||
                 response.personalization_note().find("Redis") != std::string::npos) {
        ++fallback;
      } else {
        ++other;
      }
    }
    stream->WritesDone();
    stream_status = stream->Finish();
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));

  redis_->Stop();
  WaitPastStaleness();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  // Enrollment and adaptation need the store: UNAVAILABLE, saying which.
  const testing::EnrollOutcome enroll = EnrollFrames(stub_b_.get(), "steady", {neutral_[0]});
  EXPECT_EQ(enroll.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(enroll.status.error_message().find("redis://"), std::string::npos)
      << enroll.status.error_message();
  EXPECT_EQ(RunAdapt(stub_b_.get(), "steady").status.error_code(), grpc::StatusCode::UNAVAILABLE);
  // The strict replica refuses to answer a user it cannot look up.
  const testing::PredictOutcome closed = PredictFrames(stub_strict.get(), "steady", {later_[0]});
  EXPECT_EQ(closed.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << closed.status.error_message();
  EXPECT_EQ(closed.status.error_message().rfind(
                "frame 0: cannot read the profile of user \"steady\" (redis://", 0),
            0u)
      << closed.status.error_message();
  // Generic predictions need no store, even on the strict replica.
  const testing::PredictOutcome anonymous = PredictFrames(stub_strict.get(), "", {later_[0]});
  EXPECT_TRUE(anonymous.status.ok()) << anonymous.status.error_message();

  redis_->Start();
  ASSERT_TRUE(redis_->ok());
  WaitPastStaleness();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  traffic.join();

  // The stream never broke: personalized before and after, flagged generic
  // answers in between.
  EXPECT_TRUE(stream_status.ok()) << stream_status.error_message();
  EXPECT_GT(personalized, 0);
  EXPECT_GT(fallback, 0);
  EXPECT_EQ(other, 0);
  // Nothing stored was lost, and every replica serves the user again.
  fer::v1::Profile profile;
  ASSERT_TRUE(testing::GetProfile(stub_b_.get(), "steady", &profile).ok());
  EXPECT_EQ(profile.version(), version);
  const testing::PredictOutcome again = PredictFrames(stub_strict.get(), "steady", {later_[0]});
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  ASSERT_EQ(again.responses.size(), 1u);
  EXPECT_TRUE(again.responses[0].personalized());
  EXPECT_TRUE(EnrollFrames(stub_b_.get(), "steady", {neutral_[0]}).status.ok());
  EXPECT_TRUE(strict.running()) << strict.Log();
}

}  // namespace
}  // namespace fer
