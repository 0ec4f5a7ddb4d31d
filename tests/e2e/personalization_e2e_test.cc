// End-to-end: EnrollNeutral -> Adapt -> personalized StreamPredict on the
// real ferserve binary with the default PFT bundle (CTest fixture
// `pft_bundle`), a RocksDB store and frames of franck.mp4.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/personalization_client.h"
#include "tests/http_get.h"
#include "tests/process_temp_dir.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;
using testing::EnrollFrames;
using testing::PredictFrames;
using testing::RunAdapt;

// Frames of franck.mp4's opening, where he looks at the camera, neutral.
const std::vector<std::string>& NeutralFrames() {
  static const auto* frames =
      new std::vector<std::string>(testing::VideoFrames("franck.mp4", 0, 40, 12));
  return *frames;
}

// Frames from the rest of the video (talking, smiling) to predict on.
const std::vector<std::string>& LaterFrames() {
  static const auto* frames =
      new std::vector<std::string>(testing::VideoFrames("franck.mp4", 1500, 8, 200));
  return *frames;
}

class PersonalizationE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::FerserveProcess(
        {"--pft_bundle=" + testing::PftBundlePath(), "--profile_staleness=200ms"});
  }
  static void TearDownTestSuite() { delete server_; }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->Log();
    ASSERT_EQ(NeutralFrames().size(), 40u);
    ASSERT_EQ(LaterFrames().size(), 8u);
    stub_ = ExpressionService::NewStub(server_->channel());
  }
  void TearDown() override { EXPECT_TRUE(server_->running()) << server_->Log(); }

  // Enrolls `user` with the neutral frames and adapts; the final message.
  fer::v1::AdaptProgress EnrollAndAdapt(const std::string& user) {
    const testing::EnrollOutcome enrolled = EnrollFrames(stub_.get(), user, NeutralFrames());
    EXPECT_TRUE(enrolled.status.ok()) << enrolled.status.error_message();
    EXPECT_GE(enrolled.response.accepted(), 30u);
    const testing::AdaptOutcome adapted = RunAdapt(stub_.get(), user);
    EXPECT_TRUE(adapted.status.ok()) << adapted.status.error_message();
    return adapted.final_message() != nullptr ? *adapted.final_message() : fer::v1::AdaptProgress();
  }

  static testing::FerserveProcess* server_;
  std::unique_ptr<ExpressionService::Stub> stub_;
};

testing::FerserveProcess* PersonalizationE2eTest::server_ = nullptr;

TEST_F(PersonalizationE2eTest, AdaptStreamsProgressAndPredictionsBecomePersonalized) {
  const testing::EnrollOutcome enrolled = EnrollFrames(stub_.get(), "franck", NeutralFrames());
  ASSERT_TRUE(enrolled.status.ok()) << enrolled.status.error_message();
  ASSERT_GE(enrolled.response.accepted(), 30u);

  const testing::AdaptOutcome adapted = RunAdapt(stub_.get(), "franck");
  ASSERT_TRUE(adapted.status.ok()) << adapted.status.error_message();
  ASSERT_NE(adapted.final_message(), nullptr);
  ASSERT_GE(adapted.messages.size(), 2u);  // progress, then done
  for (size_t i = 0; i + 1 < adapted.messages.size(); ++i) {
    const fer::v1::AdaptProgress& p = adapted.messages[i];
    EXPECT_EQ(p.step(), i + 1);
    EXPECT_EQ(p.total_steps(), 40u);  // the server's default budget
    EXPECT_TRUE(std::isfinite(p.loss()));
    EXPECT_EQ(p.loss_terms().count("alignment"), 1u);
    EXPECT_EQ(p.loss_terms().count("preservation"), 1u);
    EXPECT_FALSE(p.done());
  }
  const fer::v1::AdaptProgress& done = *adapted.final_message();
  EXPECT_GT(done.profile_version(), 0u);
  EXPECT_EQ(done.report().features_used(), enrolled.response.enrolled_features());
  EXPECT_EQ(done.report().steps(), adapted.messages.size() - 1);
  // Adaptation towards neutral on held-out neutral frames.
  EXPECT_GE(done.report().neutral_rate_after(), done.report().neutral_rate_before());

  fer::v1::Profile profile;
  ASSERT_TRUE(testing::GetProfile(stub_.get(), "franck", &profile).ok());
  EXPECT_EQ(profile.version(), done.profile_version());
  EXPECT_GT(profile.adapted_unix_ms(), 0);
  EXPECT_EQ(profile.last_report().steps(), done.report().steps());

  const testing::PredictOutcome generic = PredictFrames(stub_.get(), "", LaterFrames());
  const testing::PredictOutcome personal = PredictFrames(stub_.get(), "franck", LaterFrames());
  ASSERT_TRUE(generic.status.ok()) << generic.status.error_message();
  ASSERT_TRUE(personal.status.ok()) << personal.status.error_message();
  ASSERT_EQ(personal.responses.size(), LaterFrames().size());
  double largest_change = 0;
  for (size_t i = 0; i < personal.responses.size(); ++i) {
    const fer::v1::PredictResponse& p = personal.responses[i];
    const fer::v1::PredictResponse& g = generic.responses[i];
    EXPECT_TRUE(p.personalized()) << i;
    EXPECT_EQ(p.profile_version(), done.profile_version());
    EXPECT_TRUE(p.personalization_note().empty()) << p.personalization_note();
    EXPECT_FALSE(g.personalized());
    ASSERT_EQ(p.faces_size(), g.faces_size()) << i;
    if (p.faces_size() == 0) continue;
    // Same detection (the translator acts after the backbone) ...
    EXPECT_FLOAT_EQ(p.faces(0).box().x(), g.faces(0).box().x());
    // ... and a proper distribution over the same labels.
    double sum = 0;
    for (int k = 0; k < p.faces(0).probabilities_size(); ++k) {
      EXPECT_EQ(p.faces(0).probabilities(k).label(), g.faces(0).probabilities(k).label());
      sum += p.faces(0).probabilities(k).probability();
      largest_change =
          std::max<double>(largest_change, std::abs(p.faces(0).probabilities(k).probability() -
                                                    g.faces(0).probabilities(k).probability()));
    }
    EXPECT_NEAR(sum, 1.0, 1e-4);
  }
  // The user's translator changes the answers.
  EXPECT_GT(largest_change, 1e-3);
}

TEST_F(PersonalizationE2eTest, RepeatedAdaptOnAnUnchangedEnrollmentReturnsTheSameVersion) {
  const fer::v1::AdaptProgress first = EnrollAndAdapt("repeat");
  ASSERT_GT(first.profile_version(), 0u);
  const testing::AdaptOutcome again = RunAdapt(stub_.get(), "repeat");
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  ASSERT_EQ(again.messages.size(), 1u);  // no training, just the answer
  EXPECT_TRUE(again.messages[0].done());
  EXPECT_EQ(again.messages[0].profile_version(), first.profile_version());
  EXPECT_EQ(again.messages[0].report().steps(), first.report().steps());
  fer::v1::Profile profile;
  ASSERT_TRUE(testing::GetProfile(stub_.get(), "repeat", &profile).ok());
  EXPECT_EQ(profile.version(), first.profile_version());

  // New enrolled frames make a new adaptation (and version).
  ASSERT_TRUE(EnrollFrames(stub_.get(), "repeat", {NeutralFrames()[0]}).status.ok());
  const testing::AdaptOutcome after_enroll = RunAdapt(stub_.get(), "repeat");
  ASSERT_TRUE(after_enroll.status.ok());
  ASSERT_NE(after_enroll.final_message(), nullptr);
  EXPECT_GT(after_enroll.messages.size(), 1u);
  EXPECT_GT(after_enroll.final_message()->profile_version(), first.profile_version());
}

TEST_F(PersonalizationE2eTest, ConcurrentAdaptsOfOneUserAgreeOnOneVersion) {
  ASSERT_TRUE(EnrollFrames(stub_.get(), "concurrent", NeutralFrames()).status.ok());
  std::vector<testing::AdaptOutcome> outcomes(3);
  std::vector<std::thread> threads;
  for (auto& outcome : outcomes) {
    threads.emplace_back([&outcome, this] { outcome = RunAdapt(stub_.get(), "concurrent"); });
  }
  for (std::thread& t : threads) t.join();
  fer::v1::Profile profile;
  ASSERT_TRUE(testing::GetProfile(stub_.get(), "concurrent", &profile).ok());
  for (const testing::AdaptOutcome& outcome : outcomes) {
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
    ASSERT_NE(outcome.final_message(), nullptr);
    EXPECT_EQ(outcome.final_message()->profile_version(), profile.version());
  }
}

TEST_F(PersonalizationE2eTest, UsersWithoutATranslatorGetTheGenericModelAndANote) {
  ASSERT_TRUE(EnrollFrames(stub_.get(), "enrolled_only", {NeutralFrames()[0]}).status.ok());
  for (const char* user : {"enrolled_only", "never_seen"}) {
    const testing::PredictOutcome out =
        PredictFrames(stub_.get(), user, {LaterFrames()[0], LaterFrames()[1]});
    ASSERT_TRUE(out.status.ok()) << out.status.error_message();
    ASSERT_EQ(out.responses.size(), 2u);
    for (const fer::v1::PredictResponse& r : out.responses) {
      EXPECT_FALSE(r.personalized());
      EXPECT_EQ(r.profile_version(), 0u);
      EXPECT_NE(r.personalization_note().find("no adapted profile"), std::string::npos)
          << r.personalization_note();
    }
  }
}

TEST_F(PersonalizationE2eTest, AdaptRefusesWhatItCannotDo) {
  const testing::AdaptOutcome unknown = RunAdapt(stub_.get(), "nobody_here");
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unknown.status.error_message().find("EnrollNeutral"), std::string::npos);

  ASSERT_TRUE(
      EnrollFrames(stub_.get(), "too_few", {NeutralFrames()[0], NeutralFrames()[1]}).status.ok());
  const testing::AdaptOutcome too_few = RunAdapt(stub_.get(), "too_few");
  EXPECT_EQ(too_few.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(too_few.status.error_message().find("at least 16"), std::string::npos)
      << too_few.status.error_message();

  EXPECT_EQ(RunAdapt(stub_.get(), "too_few", 501).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(RunAdapt(stub_.get(), "bad/user").status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(PredictFrames(stub_.get(), "bad/user", {LaterFrames()[0]}).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PersonalizationE2eTest, DeletedUsersAreServedGenericAgain) {
  ASSERT_GT(EnrollAndAdapt("erase_me").profile_version(), 0u);
  const testing::PredictOutcome before = PredictFrames(stub_.get(), "erase_me", {LaterFrames()[0]});
  ASSERT_EQ(before.responses.size(), 1u);
  EXPECT_TRUE(before.responses[0].personalized());
  ASSERT_TRUE(testing::DeleteProfile(stub_.get(), "erase_me").ok());
  const testing::PredictOutcome after = PredictFrames(stub_.get(), "erase_me", {LaterFrames()[0]});
  ASSERT_EQ(after.responses.size(), 1u);
  EXPECT_FALSE(after.responses[0].personalized());
}

TEST_F(PersonalizationE2eTest, ModelInfoAndMetricsDescribePersonalization) {
  grpc::ClientContext context;
  fer::v1::ModelInfo info;
  ASSERT_TRUE(stub_->GetModelInfo(&context, {}, &info).ok());
  EXPECT_GT(info.translator_parameters(), 100000u);

  ASSERT_GT(EnrollAndAdapt("metrics_user").profile_version(), 0u);
  ASSERT_TRUE(
      PredictFrames(stub_.get(), "metrics_user", {LaterFrames()[0], LaterFrames()[1]}).status.ok());
  const std::string metrics = testing::HttpGet(server_->metrics_port(), "/metrics");
  for (const char* want :
       {"ferserve_translator_cache_lookups_total{result=\"hit\"}",
        "ferserve_adaptation_duration_seconds_count",
        "ferserve_frame_stage_duration_seconds_count{stage=\"personalization\"}",
        "ferserve_requests_total{code=\"OK\",rpc=\"Adapt\"}", "ferserve_translator_cache_bytes"}) {
    EXPECT_NE(metrics.find(want), std::string::npos) << want;
  }
}

}  // namespace
}  // namespace fer

namespace fer {
namespace {

// A replica killed in the middle of an adaptation leaves the previous
// version committed, readable and served after a restart on the same store.
TEST(AdaptCrashE2eTest, KilledMidAdaptKeepsThePreviousVersion) {
  const std::string store = testing::ProcessTempDir() + "adapt_crash";
  const std::vector<std::string> flags = {"--store=rocksdb://" + store,
                                          "--pft_bundle=" + testing::PftBundlePath()};
  uint64_t version = 0;
  uint32_t enrolled = 0;
  {
    testing::FerserveProcess server(flags);
    ASSERT_TRUE(server.ok()) << server.Log();
    auto stub = ExpressionService::NewStub(server.channel());
    ASSERT_TRUE(EnrollFrames(stub.get(), "crash", NeutralFrames()).status.ok());
    const testing::AdaptOutcome first = RunAdapt(stub.get(), "crash");
    ASSERT_NE(first.final_message(), nullptr) << first.status.error_message();
    version = first.final_message()->profile_version();
    // New frames, then an adaptation that is killed after its first step.
    const testing::EnrollOutcome more = EnrollFrames(stub.get(), "crash", {NeutralFrames()[0]});
    ASSERT_TRUE(more.status.ok());
    enrolled = more.response.enrolled_features();
    grpc::ClientContext context;
    context.set_deadline(testing::In(120));
    fer::v1::AdaptRequest request;
    request.set_user_id("crash");
    request.set_max_steps(500);
    auto reader = stub->Adapt(&context, request);
    fer::v1::AdaptProgress progress;
    ASSERT_TRUE(reader->Read(&progress));
    EXPECT_FALSE(progress.done());
    kill(server.pid(), SIGKILL);
    while (reader->Read(&progress)) {
    }
    EXPECT_FALSE(reader->Finish().ok());
  }
  testing::FerserveProcess restarted(flags);
  ASSERT_TRUE(restarted.ok()) << restarted.Log();
  auto stub = ExpressionService::NewStub(restarted.channel());
  fer::v1::Profile profile;
  ASSERT_TRUE(testing::GetProfile(stub.get(), "crash", &profile).ok());
  EXPECT_EQ(profile.version(), version);
  EXPECT_EQ(profile.enrolled_features(), enrolled);
  const testing::PredictOutcome served = PredictFrames(stub.get(), "crash", {LaterFrames()[1]});
  ASSERT_EQ(served.responses.size(), 1u);
  EXPECT_TRUE(served.responses[0].personalized());
  EXPECT_EQ(served.responses[0].profile_version(), version);
}

// A bundle that cannot be read stops the server at start-up, saying so,
// instead of serving without the personalization it was asked for.
TEST(PftBundleStartupE2eTest, AnUnreadableBundleStopsTheServer) {
  const std::string path = testing::ProcessTempDir() + "truncated.fpb";
  {
    std::ifstream in(testing::PftBundlePath(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(bytes.size(), 100u);
    std::ofstream(path, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  testing::FerserveProcess server({"--pft_bundle=" + path});
  EXPECT_FALSE(server.ok());
  const int status = server.WaitExit(std::chrono::seconds(60));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(server.Log().find("ferserve: cannot load the PFT bundle: "), std::string::npos)
      << server.Log();
}

}  // namespace
}  // namespace fer
