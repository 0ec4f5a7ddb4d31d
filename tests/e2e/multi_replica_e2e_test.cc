// End-to-end deployment on loopback: three ferserve replicas sharing one real
// redis-server, behind a real nginx serving deploy/nginx/ferserve.conf (gRPC,
// consistent hashing on the x-user-id metadata), scraped by a real
// Prometheus that loads deploy/prometheus/ferserve-alerts.yml; the replicas
// require a tenant's bearer token (--auth_tokens_file). Checks that a user
// enrolled through nginx is visible from every replica, that a stream
// cut by a replica crash resumes through nginx on a live replica with the
// profile intact, that a user's calls stay on one replica, and that
// Prometheus, the alert rules and the Grafana dashboard's queries work on
// ferserve's real metrics.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"
#include "lib/serving/tenant_tokens.h"
#include "tests/deploy/nginx_server.h"
#include "tests/deploy/prometheus_server.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/metric_samples.h"
#include "tests/e2e/personalization_client.h"
#include "tests/http_get.h"
#include "tests/poll_until.h"
#include "tests/process_temp_dir.h"
#include "tests/store/redis_server.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

using fer::v1::EnrollRequest;
using fer::v1::EnrollResponse;
using fer::v1::ExpressionService;
using fer::v1::PredictRequest;
using fer::v1::PredictResponse;

constexpr int kReplicas = 3;
// How long the deployment test waits for Prometheus to have scraped every
// replica and evaluated every rule, and how often it asks.
constexpr std::chrono::seconds kPrometheusPatience(60);
constexpr std::chrono::milliseconds kPrometheusPoll(500);

std::string DeployFile(const std::string& relative) {
  return std::string(FERSERVE_SOURCE_DIR) + "/deploy/" + relative;
}

// franck.mp4 frames (every 200th), the first five of which are neutral.
std::vector<std::string> FranckFrames() {
  std::vector<std::string> out;
  for (int i = 0; i < 24; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "/franck_%06d.png", i * 200);
    out.push_back(testing::ReadFileContents(testing::FixturesDir() + "/frames" + name));
  }
  return out;
}

// The replicas run with --auth_tokens_file: one tenant, one bearer token.
constexpr char kTenant[] = "deploy-tenant";
constexpr char kToken[] = "deploy-tenant-token-1";

// A client context with the tenant's bearer token.
std::unique_ptr<grpc::ClientContext> AuthorizedContext(std::chrono::seconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", std::string("Bearer ") + kToken);
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

// An authorized client context that also tells nginx whose call this is.
std::unique_ptr<grpc::ClientContext> UserContext(const std::string& user_id,
                                                 std::chrono::seconds timeout) {
  auto context = AuthorizedContext(timeout);
  context->AddMetadata("x-user-id", user_id);
  return context;
}

grpc::Status Enroll(ExpressionService::Stub* stub, const std::string& user_id,
                    const std::vector<std::string>& frames, EnrollResponse* response) {
  auto context = UserContext(user_id, std::chrono::seconds(120));
  auto writer = stub->EnrollNeutral(context.get(), response);
  for (const std::string& frame : frames) {
    EnrollRequest request;
    request.set_user_id(user_id);
    request.mutable_frame()->set_encoded(frame);
    if (!writer->Write(request)) break;
  }
  writer->WritesDone();
  return writer->Finish();
}

grpc::Status GetProfile(ExpressionService::Stub* stub, const std::string& user_id,
                        fer::v1::Profile* profile) {
  auto context = UserContext(user_id, std::chrono::seconds(10));
  fer::v1::GetProfileRequest request;
  request.set_user_id(user_id);
  return stub->GetProfile(context.get(), request, profile);
}

// Metric names ferserve exports on `metrics_port`, from the exposition's
// TYPE lines (so families without samples yet count too); histograms as
// their _bucket, _sum and _count series.
std::set<std::string> ExportedMetricNames(int metrics_port) {
  const std::string response = testing::HttpGet(metrics_port, "/metrics");
  std::set<std::string> names;
  std::istringstream in(response);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string hash, type, name, kind;
    if (!(words >> hash >> type >> name >> kind) || hash != "#" || type != "TYPE") continue;
    if (kind == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(name + suffix);
    } else {
      names.insert(name);
    }
  }
  return names;
}

// The ferserve_* metric names a PromQL expression refers to.
std::set<std::string> FerserveNamesIn(const std::string& expr) {
  static const std::regex kName(R"(\bferserve_[a-z_]+)");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kName);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

// Whether the `pft_bundle` fixture wrote the PFT bundle that Adapt needs.
bool HasPftBundle() { return std::filesystem::exists(testing::PftBundlePath()); }

// Exit code of the container health probe (the image's HEALTHCHECK) run
// against 127.0.0.1:port: 0 SERVING, 1 not serving, 2 no answer.
int HealthProbe(int port) {
  const std::string command =
      std::string(FERSERVE_BINARY_DIR) +
      "/client/fer-health-probe --quiet --timeout=2s --addr=127.0.0.1:" + std::to_string(port);
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class MultiReplicaE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    redis_ = new testing::RedisServer();
    tokens_file_ = new std::string(testing::ProcessTempDir() + "deploy_tokens");
    std::ofstream(*tokens_file_) << kTenant << " " << TenantTokens::HashToken(kToken) << "\n";
    for (int i = 0; i < kReplicas; ++i) {
      // One intra-op thread each: three replicas share this machine's cores.
      std::vector<std::string> flags = {"--store=" + redis_->url(), "--threads=1",
                                        "--auth_tokens_file=" + *tokens_file_};
      if (HasPftBundle()) flags.push_back("--pft_bundle=" + testing::PftBundlePath());
      replicas_[i] = new testing::FerserveProcess(flags);
    }
    std::vector<int> ports;
    for (testing::FerserveProcess* r : replicas_) ports.push_back(r->port());
    nginx_ = new testing::NginxServer(DeployFile("nginx/ferserve.conf"), ports);
  }
  static void TearDownTestSuite() {
    delete nginx_;
    for (testing::FerserveProcess*& r : replicas_) {
      delete r;
      r = nullptr;
    }
    delete redis_;
    std::filesystem::remove(*tokens_file_);
    delete tokens_file_;
  }

  void SetUp() override {
    // Cases that crash or drain a replica leave the deployment to the next
    // case whole again: a fresh one when any replica is gone.
    bool whole = true;
    for (testing::FerserveProcess* r : replicas_) whole = whole && r->running();
    if (!whole) {
      TearDownTestSuite();
      SetUpTestSuite();
    }
    ASSERT_TRUE(redis_->ok());
    for (testing::FerserveProcess* r : replicas_) ASSERT_TRUE(r->ok()) << r->Log();
    ASSERT_TRUE(nginx_->ok()) << nginx_->ErrorLog();
    through_nginx_ = ExpressionService::NewStub(
        grpc::CreateChannel(nginx_->address(), grpc::InsecureChannelCredentials()));
  }

  // Index of the replica with an open stream, or -1 when not exactly one has.
  static int ReplicaWithOpenStream() {
    int found = -1;
    for (int i = 0; i < kReplicas; ++i) {
      if (testing::MetricSum(testing::ScrapeMetrics(replicas_[i]->metrics_port()),
                             "ferserve_inflight_streams") > 0) {
        if (found >= 0) return -1;
        found = i;
      }
    }
    return found;
  }

  // Index of the one replica whose count of finished `rpc` calls grew while
  // `call` ran; -1 when none or several did.
  static int ReplicaThatServed(const std::string& rpc, const std::function<void()>& call) {
    const std::string label = "rpc=\"" + rpc + "\"";
    double before[kReplicas];
    for (int i = 0; i < kReplicas; ++i) {
      before[i] = testing::MetricSum(testing::ScrapeMetrics(replicas_[i]->metrics_port()),
                                     "ferserve_requests_total", {label});
    }
    call();
    int served = -1;
    for (int i = 0; i < kReplicas; ++i) {
      if (testing::MetricSum(testing::ScrapeMetrics(replicas_[i]->metrics_port()),
                             "ferserve_requests_total", {label}) > before[i]) {
        if (served >= 0) return -1;
        served = i;
      }
    }
    return served;
  }

  static testing::RedisServer* redis_;
  static std::string* tokens_file_;
  static testing::FerserveProcess* replicas_[kReplicas];
  static testing::NginxServer* nginx_;
  std::unique_ptr<ExpressionService::Stub> through_nginx_;
};

testing::RedisServer* MultiReplicaE2eTest::redis_ = nullptr;
std::string* MultiReplicaE2eTest::tokens_file_ = nullptr;
testing::FerserveProcess* MultiReplicaE2eTest::replicas_[kReplicas] = {};
testing::NginxServer* MultiReplicaE2eTest::nginx_ = nullptr;

TEST_F(MultiReplicaE2eTest, StreamResumesOnAnotherReplicaAfterACrashWithTheProfileIntact) {
  const std::string user = "deploy-user-1";
  const std::vector<std::string> frames = FranckFrames();

  // Enroll through nginx; every replica reads the profile from Redis.
  const std::vector<std::string> neutral(frames.begin(), frames.begin() + 5);
  EnrollResponse enrolled;
  grpc::Status status = Enroll(through_nginx_.get(), user, neutral, &enrolled);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << nginx_->ErrorLog();
  ASSERT_GE(enrolled.accepted(), 3u);
  fer::v1::Profile before;
  ASSERT_TRUE(GetProfile(through_nginx_.get(), user, &before).ok());
  EXPECT_EQ(before.enrolled_features(), enrolled.enrolled_features());
  for (testing::FerserveProcess* r : replicas_) {
    fer::v1::Profile direct;
    auto stub = ExpressionService::NewStub(r->channel());
    ASSERT_TRUE(GetProfile(stub.get(), user, &direct).ok());
    EXPECT_EQ(direct.SerializeAsString(), before.SerializeAsString());
  }

  // Stream through nginx, then crash the replica that serves the stream.
  PredictRequest first;
  first.mutable_config()->set_user_id(user);
  auto context = UserContext(user, std::chrono::seconds(60));
  auto stream = through_nginx_->StreamPredict(context.get());
  size_t next = 0;
  for (; next < 4; ++next) {
    PredictRequest request = next == 0 ? first : PredictRequest();
    request.mutable_frame()->set_encoded(frames[next]);
    ASSERT_TRUE(stream->Write(request));
    PredictResponse response;
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_EQ(response.frame_index(), next);
    EXPECT_TRUE(response.face_found());
  }
  const int serving = ReplicaWithOpenStream();
  ASSERT_GE(serving, 0) << "expected exactly one replica with the open stream";
  ASSERT_EQ(kill(replicas_[serving]->pid(), SIGKILL), 0);
  ASSERT_NE(replicas_[serving]->WaitExit(std::chrono::seconds(10)), -1);
  EXPECT_EQ(HealthProbe(replicas_[serving]->port()), 2);
  EXPECT_EQ(HealthProbe(replicas_[(serving + 1) % kReplicas]->port()), 0);

  // The cut stream ends with an error, within its deadline.
  PredictRequest more;
  more.mutable_frame()->set_encoded(frames[next]);
  PredictResponse ignored;
  if (stream->Write(more)) stream->Read(&ignored);
  stream->WritesDone();
  while (stream->Read(&ignored)) {
  }
  status = stream->Finish();
  EXPECT_FALSE(status.ok());

  // The client opens a new stream through nginx, which skips the dead
  // replica; the stream goes on from the same frame.
  context = UserContext(user, std::chrono::seconds(60));
  stream = through_nginx_->StreamPredict(context.get());
  for (size_t i = next; i < frames.size(); ++i) {
    PredictRequest request = i == next ? first : PredictRequest();
    request.mutable_frame()->set_encoded(frames[i]);
    ASSERT_TRUE(stream->Write(request)) << "frame " << i;
    PredictResponse response;
    ASSERT_TRUE(stream->Read(&response)) << "frame " << i;
    EXPECT_EQ(response.frame_index(), i - next);
    EXPECT_EQ(response.frame_width(), 360u);
  }
  const int resumed_on = ReplicaWithOpenStream();
  stream->WritesDone();
  status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << nginx_->ErrorLog();
  EXPECT_NE(resumed_on, serving);
  EXPECT_GE(resumed_on, 0);

  // Nothing stored was lost: same profile through nginx and from every
  // surviving replica.
  fer::v1::Profile after;
  ASSERT_TRUE(GetProfile(through_nginx_.get(), user, &after).ok());
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
  for (int i = 0; i < kReplicas; ++i) {
    if (i == serving) continue;
    fer::v1::Profile direct;
    auto stub = ExpressionService::NewStub(replicas_[i]->channel());
    ASSERT_TRUE(GetProfile(stub.get(), user, &direct).ok());
    EXPECT_EQ(direct.SerializeAsString(), before.SerializeAsString());
  }
}

TEST_F(MultiReplicaE2eTest, ConsistentHashingKeepsEachUserOnOneReplica) {
  std::set<int> replicas_used;
  for (int u = 0; u < 12; ++u) {
    const std::string user = "hash-user-" + std::to_string(u);
    const int owner = ReplicaThatServed("GetProfile", [&] {
      for (int call = 0; call < 3; ++call) {
        fer::v1::Profile profile;
        const grpc::Status status = GetProfile(through_nginx_.get(), user, &profile);
        ASSERT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
      }
    });
    ASSERT_GE(owner, 0) << user << ": calls split over replicas";
    replicas_used.insert(owner);
  }
  EXPECT_GE(replicas_used.size(), 2u) << "12 users all hashed to one replica";

  // nginx passes the caller's credentials through: without them, refused.
  grpc::ClientContext anonymous;
  anonymous.AddMetadata("x-user-id", "hash-user-0");
  fer::v1::GetProfileRequest request;
  request.set_user_id("hash-user-0");
  fer::v1::Profile profile;
  EXPECT_EQ(through_nginx_->GetProfile(&anonymous, request, &profile).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(MultiReplicaE2eTest, HealthProbeSeesADrainingReplicaAsNotServing) {
  testing::FerserveProcess* replica = replicas_[0];
  EXPECT_EQ(HealthProbe(replica->port()), 0);
  // An open stream keeps the replica draining for up to --grace_period.
  auto stub = ExpressionService::NewStub(replica->channel());
  auto context = AuthorizedContext(std::chrono::seconds(60));
  auto stream = stub->StreamPredict(context.get());
  PredictRequest request;
  request.mutable_frame()->set_encoded(FranckFrames()[0]);
  PredictResponse response;
  ASSERT_TRUE(stream->Write(request) && stream->Read(&response));
  ASSERT_EQ(kill(replica->pid(), SIGTERM), 0);
  int probe = 0;
  testing::PollUntil([&] { return (probe = HealthProbe(replica->port())) != 0; },
                     std::chrono::seconds(5), std::chrono::milliseconds(100));
  EXPECT_EQ(probe, 1) << "a draining replica answers NOT_SERVING";
  stream->WritesDone();
  while (stream->Read(&response)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_NE(replica->WaitExit(std::chrono::seconds(20)), -1);
  EXPECT_EQ(HealthProbe(replica->port()), 2);
}

TEST_F(MultiReplicaE2eTest, AdaptedThroughNginxPersonalizedOnEveryReplicaAndAfterACrash) {
  if (!HasPftBundle()) {
    GTEST_SKIP() << "no PFT bundle at " << testing::PftBundlePath()
                 << " (CTest fixture pft_bundle)";
  }
  const std::string user = "deploy-adapt-user";
  const std::vector<std::string> neutral = testing::VideoFrames("franck.mp4", 0, 40, 12);
  const std::vector<std::string> later = testing::VideoFrames("franck.mp4", 1500, 8, 200);
  ASSERT_EQ(neutral.size(), 40u);
  ASSERT_EQ(later.size(), 8u);

  // Enroll and adapt through nginx.
  EnrollResponse enrolled;
  grpc::Status status = Enroll(through_nginx_.get(), user, neutral, &enrolled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GE(enrolled.accepted(), 30u);
  auto context = UserContext(user, std::chrono::seconds(300));
  fer::v1::AdaptRequest adapt;
  adapt.set_user_id(user);
  auto progress_reader = through_nginx_->Adapt(context.get(), adapt);
  fer::v1::AdaptProgress progress;
  int messages = 0;
  while (progress_reader->Read(&progress)) ++messages;
  status = progress_reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(progress.done());
  EXPECT_GE(messages, 2);  // progress, then done
  const uint64_t version = progress.profile_version();
  ASSERT_GT(version, 0u);

  // Personalized answers with that version through nginx and from every
  // replica (they share the Redis store).
  auto personalized_everywhere = [&](ExpressionService::Stub* stub, const std::string& where) {
    auto context = UserContext(user, std::chrono::seconds(120));
    auto stream = stub->StreamPredict(context.get());
    for (size_t i = 0; i < later.size(); ++i) {
      PredictRequest request;
      if (i == 0) request.mutable_config()->set_user_id(user);
      request.mutable_frame()->set_encoded(later[i]);
      PredictResponse response;
      ASSERT_TRUE(stream->Write(request) && stream->Read(&response)) << where << " frame " << i;
      EXPECT_TRUE(response.personalized()) << where << ": " << response.personalization_note();
      EXPECT_EQ(response.profile_version(), version) << where;
    }
    stream->WritesDone();
    const grpc::Status finished = stream->Finish();
    EXPECT_TRUE(finished.ok()) << where << ": " << finished.error_message();
  };
  personalized_everywhere(through_nginx_.get(), "nginx");
  for (int i = 0; i < kReplicas; ++i) {
    auto stub = ExpressionService::NewStub(replicas_[i]->channel());
    personalized_everywhere(stub.get(), "replica " + std::to_string(i));
  }

  // The replica nginx sends this user to crashes; the user's next calls
  // through nginx land elsewhere and stay personalized with that version.
  fer::v1::Profile profile;
  const int owner = ReplicaThatServed(
      "GetProfile", [&] { ASSERT_TRUE(GetProfile(through_nginx_.get(), user, &profile).ok()); });
  ASSERT_GE(owner, 0);
  ASSERT_EQ(kill(replicas_[owner]->pid(), SIGKILL), 0);
  ASSERT_NE(replicas_[owner]->WaitExit(std::chrono::seconds(10)), -1);
  personalized_everywhere(through_nginx_.get(), "nginx after the crash");
  ASSERT_TRUE(GetProfile(through_nginx_.get(), user, &profile).ok());
  EXPECT_EQ(profile.version(), version);
}

TEST_F(MultiReplicaE2eTest, PrometheusScrapesEveryReplicaAndEvaluatesTheDeployRules) {
  // Traffic on every replica: one good frame and one corrupt frame each.
  const std::vector<std::string> frames = FranckFrames();
  std::vector<std::string> targets;
  std::set<std::string> exported;
  for (testing::FerserveProcess* r : replicas_) {
    auto stub = ExpressionService::NewStub(r->channel());
    auto context = AuthorizedContext(std::chrono::seconds(60));
    auto stream = stub->StreamPredict(context.get());
    PredictRequest good, corrupt;
    good.mutable_frame()->set_encoded(frames[0]);
    corrupt.mutable_frame()->set_encoded("not an image");
    PredictResponse response;
    ASSERT_TRUE(stream->Write(good) && stream->Read(&response));
    stream->Write(corrupt);
    stream->WritesDone();
    while (stream->Read(&response)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    targets.push_back("127.0.0.1:" + std::to_string(r->metrics_port()));
    for (const std::string& name : ExportedMetricNames(r->metrics_port())) exported.insert(name);
  }

  testing::PrometheusServer prometheus(targets, {DeployFile("prometheus/ferserve-alerts.yml")});
  ASSERT_TRUE(prometheus.ok()) << prometheus.Log();

  // The query API returns ferserve_requests_total for all three replicas.
  std::set<std::string> instances;
  testing::PollUntil(
      [&] {
        const nlohmann::json answer = prometheus.Query("ferserve_requests_total");
        if (answer.is_null() || answer.value("status", "") != "success") return false;
        instances.clear();
        for (const nlohmann::json& series : answer["data"]["result"]) {
          instances.insert(series["metric"]["instance"].get<std::string>());
        }
        return instances.size() == targets.size();
      },
      kPrometheusPatience, kPrometheusPoll);
  EXPECT_EQ(instances, std::set<std::string>(targets.begin(), targets.end())) << prometheus.Log();

  // Every alert rule is loaded and evaluates without error, and names only
  // metrics ferserve exports (or Prometheus' own `up`).
  nlohmann::json rules;
  const bool all_evaluated = testing::PollUntil(
      [&] {
        rules = prometheus.Api("/api/v1/rules");
        bool evaluated = !rules.is_null() && !rules["data"]["groups"].empty();
        for (const nlohmann::json& group : rules["data"]["groups"]) {
          for (const nlohmann::json& rule : group["rules"]) {
            evaluated = evaluated && rule.value("health", "") == "ok";
          }
        }
        return evaluated;
      },
      kPrometheusPatience, kPrometheusPoll);
  ASSERT_TRUE(all_evaluated) << rules.dump(1);
  size_t rule_count = 0;
  for (const nlohmann::json& rule : rules["data"]["groups"][0]["rules"]) {
    ++rule_count;
    for (const std::string& name : FerserveNamesIn(rule["query"].get<std::string>())) {
      EXPECT_EQ(exported.count(name), 1u) << rule["name"] << " names " << name;
    }
  }
  EXPECT_GE(rule_count, 5u);
  // No replica is down or draining, so those alerts stay silent.
  const nlohmann::json alerts = prometheus.Api("/api/v1/alerts");
  for (const nlohmann::json& alert : alerts["data"]["alerts"]) {
    EXPECT_NE(alert["labels"]["alertname"], "FerserveReplicaDown");
    EXPECT_NE(alert["labels"]["alertname"], "FerserveNotServing");
  }

  // Every Grafana panel query names ferserve metrics that exist and runs on
  // Prometheus (Grafana's variables replaced as Grafana would).
  const nlohmann::json dashboard = nlohmann::json::parse(
      testing::ReadFileContents(DeployFile("grafana/ferserve-dashboard.json")));
  size_t queries = 0;
  for (const nlohmann::json& panel : dashboard["panels"]) {
    for (const nlohmann::json& target : panel["targets"]) {
      std::string expr = target["expr"].get<std::string>();
      const std::set<std::string> names = FerserveNamesIn(expr);
      EXPECT_FALSE(names.empty()) << panel["title"] << ": " << expr;
      for (const std::string& name : names) {
        EXPECT_EQ(exported.count(name), 1u) << panel["title"] << " names " << name;
      }
      expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "1m");
      expr = std::regex_replace(expr, std::regex(R"(\$instance)"), ".*");
      const nlohmann::json answer = prometheus.Query(expr);
      EXPECT_EQ(answer.value("status", ""), "success") << panel["title"] << ": " << answer;
      ++queries;
    }
  }
  EXPECT_GE(queries, 10u);
  const nlohmann::json serving = prometheus.Query("sum(ferserve_serving)");
  ASSERT_EQ(serving["data"]["result"].size(), 1u) << serving;
  EXPECT_EQ(serving["data"]["result"][0]["value"][1], "3");
}

}  // namespace
}  // namespace fer
