// End-to-end: bearer-token tenants and TLS on the real ferserve binary.
// Every RPC refuses calls without a valid token, and no RPC lets one tenant
// read, adapt, predict with or delete another tenant's user.
#include <grpcpp/support/client_interceptor.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "lib/files/file_contents.h"
#include "lib/serving/tenant_tokens.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/personalization_client.h"
#include "tests/e2e/test_certificates.h"
#include "tests/poll_until.h"
#include "tests/process_temp_dir.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;

// How long a test waits for a reload (--credentials_reload_interval=1s) to
// show, and how often it looks.
constexpr std::chrono::seconds kReloadPatience(10);
constexpr std::chrono::milliseconds kReloadPoll(250);

std::string TempPath(const std::string& name) {
  return testing::ProcessTempDir() + "tenancy_" + name;
}

// Adds "authorization: Bearer <token>" to every call of a channel (call
// credentials are refused on plaintext channels, metadata is not).
class BearerTokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerTokenInterceptor(std::string token) : token_(std::move(token)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", "Bearer " + token_});
    }
    methods->Proceed();
  }

 private:
  std::string token_;
};

class BearerTokenFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerTokenFactory(std::string token) : token_(std::move(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new BearerTokenInterceptor(token_);
  }

 private:
  std::string token_;
};

// A stub on the server's port whose calls carry `token` (none when empty).
std::unique_ptr<ExpressionService::Stub> StubWithToken(int port, const std::string& token) {
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  if (!token.empty()) factories.push_back(std::make_unique<BearerTokenFactory>(token));
  return ExpressionService::NewStub(grpc::experimental::CreateCustomChannelWithInterceptors(
      "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(),
      grpc::ChannelArguments(), std::move(factories)));
}

class TenancyE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tokens_path_ = new std::string(TempPath("tokens"));
    std::ofstream(*tokens_path_) << "# test tenants\n"
                                 << "acme " << TenantTokens::HashToken("acme-token") << "\n"
                                 << "globex " << TenantTokens::HashToken("globex-token") << "\n";
    server_ = new testing::FerserveProcess({"--auth_tokens_file=" + *tokens_path_,
                                            "--pft_bundle=" + testing::PftBundlePath(),
                                            "--profile_staleness=100ms"});
  }
  static void TearDownTestSuite() {
    delete server_;
    std::remove(tokens_path_->c_str());
    delete tokens_path_;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->Log();
    acme_ = StubWithToken(server_->port(), "acme-token");
    globex_ = StubWithToken(server_->port(), "globex-token");
  }
  void TearDown() override { EXPECT_TRUE(server_->running()) << server_->Log(); }

  static std::string* tokens_path_;
  static testing::FerserveProcess* server_;
  std::unique_ptr<ExpressionService::Stub> acme_, globex_;
};

std::string* TenancyE2eTest::tokens_path_ = nullptr;
testing::FerserveProcess* TenancyE2eTest::server_ = nullptr;

TEST_F(TenancyE2eTest, EveryRpcNeedsAValidTokenButHealthDoesNot) {
  const std::vector<std::string> frame = testing::VideoFrames("franck.mp4", 0, 1, 1);
  ASSERT_EQ(frame.size(), 1u);
  for (const std::string token : {"", "wrong-token"}) {
    auto stub = StubWithToken(server_->port(), token);
    std::vector<grpc::Status> statuses;
    {
      grpc::ClientContext context;
      fer::v1::ModelInfo info;
      statuses.push_back(stub->GetModelInfo(&context, {}, &info));
    }
    statuses.push_back(testing::PredictFrames(stub.get(), "", frame).status);
    statuses.push_back(testing::EnrollFrames(stub.get(), "u", frame).status);
    statuses.push_back(testing::RunAdapt(stub.get(), "u").status);
    fer::v1::Profile profile;
    statuses.push_back(testing::GetProfile(stub.get(), "u", &profile));
    statuses.push_back(testing::DeleteProfile(stub.get(), "u"));
    for (size_t i = 0; i < statuses.size(); ++i) {
      EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << "rpc " << i << " token '" << token << "': " << statuses[i].error_message();
    }
  }
  // Load balancers and probes check health without credentials.
  EXPECT_EQ(server_->Health(""), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(TenancyE2eTest, NoRpcReachesAnotherTenantsUser) {
  const std::vector<std::string> neutral = testing::VideoFrames("franck.mp4", 0, 24, 20);
  const std::vector<std::string> later = testing::VideoFrames("franck.mp4", 2000, 1, 1);
  ASSERT_EQ(neutral.size(), 24u);
  ASSERT_TRUE(testing::EnrollFrames(acme_.get(), "patient7", neutral).status.ok());
  const testing::AdaptOutcome adapted = testing::RunAdapt(acme_.get(), "patient7");
  ASSERT_NE(adapted.final_message(), nullptr) << adapted.status.error_message();
  const uint64_t version = adapted.final_message()->profile_version();

  // globex sees no such user, whatever it tries.
  fer::v1::Profile profile;
  EXPECT_EQ(testing::GetProfile(globex_.get(), "patient7", &profile).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(testing::RunAdapt(globex_.get(), "patient7").status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(testing::DeleteProfile(globex_.get(), "patient7").error_code(),
            grpc::StatusCode::NOT_FOUND);
  const testing::PredictOutcome foreign = testing::PredictFrames(globex_.get(), "patient7", later);
  ASSERT_EQ(foreign.responses.size(), 1u);
  EXPECT_FALSE(foreign.responses[0].personalized());
  EXPECT_EQ(foreign.responses[0].profile_version(), 0u);

  // globex's own user of the same name is a different profile.
  ASSERT_TRUE(testing::EnrollFrames(globex_.get(), "patient7", {neutral[0]}).status.ok());
  ASSERT_TRUE(testing::GetProfile(globex_.get(), "patient7", &profile).ok());
  EXPECT_EQ(profile.version(), 0u);  // enrolled, never adapted
  EXPECT_EQ(profile.enrolled_features(), 1u);
  ASSERT_TRUE(testing::DeleteProfile(globex_.get(), "patient7").ok());

  // acme's user is untouched by all of it.
  ASSERT_TRUE(testing::GetProfile(acme_.get(), "patient7", &profile).ok());
  EXPECT_EQ(profile.version(), version);
  EXPECT_GE(profile.enrolled_features(), 16u);
  const testing::PredictOutcome own = testing::PredictFrames(acme_.get(), "patient7", later);
  ASSERT_EQ(own.responses.size(), 1u);
  EXPECT_TRUE(own.responses[0].personalized());
  EXPECT_EQ(own.responses[0].profile_version(), version);
}

// The code of a GetModelInfo call with `token`.
grpc::StatusCode ModelInfoCode(int port, const std::string& token) {
  grpc::ClientContext context;
  context.set_deadline(testing::In(10));
  fer::v1::ModelInfo info;
  return StubWithToken(port, token)->GetModelInfo(&context, {}, &info).error_code();
}

TEST(TokenRotationE2eTest, TokensAreAddedAndRevokedWithoutARestart) {
  const std::string path = TempPath("rotated_tokens");
  ASSERT_TRUE(
      WriteFileAtomically(path, absl::StrCat("acme ", TenantTokens::HashToken("old"), "\n")).ok());
  testing::FerserveProcess server(
      {"--auth_tokens_file=" + path, "--credentials_reload_interval=1s"});
  ASSERT_TRUE(server.ok()) << server.Log();
  EXPECT_EQ(ModelInfoCode(server.port(), "old"), grpc::StatusCode::OK);
  EXPECT_EQ(ModelInfoCode(server.port(), "new"), grpc::StatusCode::UNAUTHENTICATED);

  // The new token is added beside the old one, then the old one revoked.
  ASSERT_TRUE(
      WriteFileAtomically(path, absl::StrCat("acme ", TenantTokens::HashToken("old"), "\nacme ",
                                             TenantTokens::HashToken("new"), "\n"))
          .ok());
  EXPECT_TRUE(testing::PollUntil(
      [&] { return ModelInfoCode(server.port(), "new") == grpc::StatusCode::OK; }, kReloadPatience,
      kReloadPoll))
      << server.Log();
  ASSERT_TRUE(
      WriteFileAtomically(path, absl::StrCat("acme ", TenantTokens::HashToken("new"), "\n")).ok());
  EXPECT_TRUE(testing::PollUntil(
      [&] { return ModelInfoCode(server.port(), "old") == grpc::StatusCode::UNAUTHENTICATED; },
      kReloadPatience, kReloadPoll))
      << server.Log();
  EXPECT_EQ(ModelInfoCode(server.port(), "new"), grpc::StatusCode::OK);
  EXPECT_NE(server.Log().find("ferserve: tokens reloaded from " + path + ": 1 token(s)"),
            std::string::npos)
      << server.Log();
}

using Certificates = testing::TestCertificates;

TEST(TlsE2eTest, ServesOverTlsAndRequiresClientCertificatesForMutualTls) {
  Certificates pki;
  ASSERT_TRUE(pki.ok());
  grpc::SslCredentialsOptions trusting_ca;
  trusting_ca.pem_root_certs = pki.pem("ca.pem");
  grpc::SslCredentialsOptions with_client_cert = trusting_ca;
  with_client_cert.pem_private_key = pki.pem("client.key");
  with_client_cert.pem_cert_chain = pki.pem("client.pem");

  testing::FerserveProcess mutual(
      {"--tls_cert_file=" + pki.path("server.pem"), "--tls_key_file=" + pki.path("server.key"),
       "--tls_client_ca_file=" + pki.path("ca.pem")},
      grpc::SslCredentials(with_client_cert));
  ASSERT_TRUE(mutual.ok()) << mutual.Log();
  EXPECT_NE(mutual.Log().find("mutual TLS"), std::string::npos) << mutual.Log();
  {
    auto stub = ExpressionService::NewStub(mutual.channel());
    grpc::ClientContext context;
    fer::v1::ModelInfo info;
    EXPECT_TRUE(stub->GetModelInfo(&context, {}, &info).ok());
  }
  for (const auto& credentials :
       {grpc::SslCredentials(trusting_ca), grpc::InsecureChannelCredentials()}) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto stub = ExpressionService::NewStub(
        grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(mutual.port()), credentials, args));
    grpc::ClientContext context;
    context.set_deadline(testing::In(5));
    fer::v1::ModelInfo info;
    EXPECT_EQ(stub->GetModelInfo(&context, {}, &info).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EXPECT_TRUE(mutual.running());

  // A key without its certificate is a start-up error, not a plaintext server.
  testing::FerserveProcess half({"--tls_key_file=" + pki.path("server.key")});
  EXPECT_FALSE(half.ok());
  EXPECT_EQ(WEXITSTATUS(half.WaitExit(std::chrono::seconds(10))), 2) << half.Log();
}

// Whether a GetModelInfo call on a connection of its own (no connection
// shared with earlier channels) succeeds with these TLS credentials.
bool CallSucceeds(int port, const grpc::SslCredentialsOptions& tls) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = ExpressionService::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(port), grpc::SslCredentials(tls), args));
  grpc::ClientContext context;
  context.set_deadline(testing::In(5));
  fer::v1::ModelInfo info;
  return stub->GetModelInfo(&context, {}, &info).ok();
}

// A client trusting `pki`'s CA and presenting its client certificate.
grpc::SslCredentialsOptions ClientOf(const Certificates& pki) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = pki.pem("ca.pem");
  tls.pem_private_key = pki.pem("client.key");
  tls.pem_cert_chain = pki.pem("client.pem");
  return tls;
}

// Replaces `path` at once, as a Kubernetes secret update does.
void Replace(const std::string& path, const std::string& contents) {
  ASSERT_TRUE(WriteFileAtomically(path, contents).ok()) << path;
}

TEST(TlsE2eTest, RenewedCertificatesAndClientCaAreServedWithoutARestart) {
  Certificates before, after;
  ASSERT_TRUE(before.ok() && after.ok());
  const std::string dir = testing::ProcessTempDir() + "tls_rotation";
  std::filesystem::create_directories(dir);
  for (const char* name : {"server.pem", "server.key", "ca.pem"}) {
    Replace(dir + "/" + name, before.pem(name));
  }
  testing::FerserveProcess server(
      {"--tls_cert_file=" + dir + "/server.pem", "--tls_key_file=" + dir + "/server.key",
       "--tls_client_ca_file=" + dir + "/ca.pem", "--credentials_reload_interval=1s"},
      grpc::SslCredentials(ClientOf(before)));
  ASSERT_TRUE(server.ok()) << server.Log();
  EXPECT_TRUE(CallSucceeds(server.port(), ClientOf(before)));
  EXPECT_FALSE(CallSucceeds(server.port(), ClientOf(after)));

  // The certificates are renewed under another CA, which clients now use.
  for (const char* name : {"server.pem", "server.key", "ca.pem"}) {
    Replace(dir + "/" + name, after.pem(name));
  }
  EXPECT_TRUE(testing::PollUntil([&] { return CallSucceeds(server.port(), ClientOf(after)); },
                                 kReloadPatience, kReloadPoll))
      << server.Log();
  EXPECT_FALSE(CallSucceeds(server.port(), ClientOf(before)));
  EXPECT_NE(server.Log().find("ferserve: TLS certificates reloaded from " + dir + "/server.pem"),
            std::string::npos)
      << server.Log();

  // A broken renewal keeps what was served before.
  Replace(dir + "/server.pem", "not a certificate\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_TRUE(CallSucceeds(server.port(), ClientOf(after))) << server.Log();
  EXPECT_NE(server.Log().find("ferserve: TLS files not reloaded, serving the previous ones: "
                              "--tls_cert_file " +
                              dir + "/server.pem holds no PEM certificate"),
            std::string::npos)
      << server.Log();
  EXPECT_TRUE(server.running());
}

TEST(TlsE2eTest, ACertificateThatIsNotForTheKeyStopsTheStartUp) {
  Certificates one, other;
  ASSERT_TRUE(one.ok() && other.ok());
  const std::string junk = testing::ProcessTempDir() + "tls_junk.pem";
  Replace(junk, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--tls_cert_file=" + one.path("server.pem"), "--tls_key_file=" + other.path("server.key")},
       "TLS: the certificate in --tls_cert_file " + one.path("server.pem") +
           " is not for the key in --tls_key_file " + other.path("server.key")},
      {{"--tls_cert_file=" + junk, "--tls_key_file=" + one.path("server.key")},
       "TLS: --tls_cert_file " + junk + " holds no PEM certificate"},
      {{"--tls_cert_file=" + one.path("server.pem"), "--tls_key_file=" + junk},
       "TLS: --tls_key_file " + junk + " holds no unencrypted PEM private key"},
      {{"--tls_cert_file=" + one.path("server.pem"), "--tls_key_file=" + one.path("server.key"),
        "--tls_client_ca_file=" + junk},
       "TLS: --tls_client_ca_file " + junk + " holds no PEM certificate"},
  };
  for (const Case& c : cases) {
    testing::FerserveProcess server(c.flags);
    EXPECT_FALSE(server.ok());
    EXPECT_EQ(WEXITSTATUS(server.WaitExit(std::chrono::seconds(60))), 1) << server.Log();
    EXPECT_NE(server.Log().find(c.message), std::string::npos) << c.message << "\n" << server.Log();
  }
}

}  // namespace
}  // namespace fer
