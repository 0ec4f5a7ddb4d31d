// End-to-end: ferctl's --token and --tls* flags against the real ferserve
// with bearer-token tenants (--auth_tokens_file) and with mutual TLS.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "lib/serving/tenant_tokens.h"
#include "tests/e2e/ferctl_runner.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/test_certificates.h"
#include "tests/process_temp_dir.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

using testing::ChildResult;

TEST(FerctlSecurityE2eTest, TokenSelectsTheTenantAndIsRequired) {
  const std::string tokens = testing::ProcessTempDir() + "ferctl_tokens";
  std::ofstream(tokens) << "acme " << TenantTokens::HashToken("acme-token") << "\n"
                        << "globex " << TenantTokens::HashToken("globex-token") << "\n";
  testing::FerserveProcess server({"--auth_tokens_file=" + tokens});
  ASSERT_TRUE(server.ok()) << server.Log();
  const auto ferctl = [&](std::vector<std::string> args) {
    return testing::RunFerctlOn(server.port(), std::move(args));
  };

  for (const char* token : {"", "wrong-token"}) {
    const ChildResult r = ferctl({std::string("--token=") + token, "model", "info"});
    EXPECT_EQ(r.exit_code, testing::kFerctlUnauthenticated) << token << ": " << r.err;
    EXPECT_NE(r.err.find("UNAUTHENTICATED"), std::string::npos) << r.err;
  }
  EXPECT_EQ(ferctl({"health"}).exit_code, 0);  // probes need no token
  EXPECT_EQ(ferctl({"--token=acme-token", "model", "info"}).exit_code, 0);

  // A user enrolled with acme's token is acme's only.
  const ChildResult enroll = ferctl({"--token=acme-token", "enroll", "--user=patient1",
                                     "--video=" + testing::Video("franck.mp4"), "--frames=2"});
  ASSERT_EQ(enroll.exit_code, 0) << enroll.err;
  EXPECT_EQ(ferctl({"--token=acme-token", "profile", "get", "--user=patient1"}).exit_code, 0);
  EXPECT_EQ(ferctl({"--token=globex-token", "profile", "get", "--user=patient1"}).exit_code,
            testing::kFerctlNotFound);
  std::remove(tokens.c_str());
}

TEST(FerctlSecurityE2eTest, MutualTls) {
  testing::TestCertificates pki;
  ASSERT_TRUE(pki.ok());
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pki.pem("ca.pem");
  options.pem_private_key = pki.pem("client.key");
  options.pem_cert_chain = pki.pem("client.pem");
  testing::FerserveProcess server(
      {"--tls_cert_file=" + pki.path("server.pem"), "--tls_key_file=" + pki.path("server.key"),
       "--tls_client_ca_file=" + pki.path("ca.pem")},
      grpc::SslCredentials(options));
  ASSERT_TRUE(server.ok()) << server.Log();
  const auto ferctl = [&](std::vector<std::string> args) {
    args.push_back("--deadline=5s");
    return testing::RunFerctlOn(server.port(), std::move(args));
  };

  const ChildResult r = ferctl(
      {"--tls_ca=" + pki.path("ca.pem"), "--tls_cert=" + pki.path("client.pem"),
       "--tls_key=" + pki.path("client.key"), "--tls_server_name=localhost", "model", "info"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("feature_dim            256"), std::string::npos) << r.out;

  // Without a client certificate, or in plaintext, the server cannot be reached.
  const ChildResult no_cert =
      ferctl({"--tls_ca=" + pki.path("ca.pem"), "--tls_server_name=localhost", "model", "info"});
  EXPECT_EQ(no_cert.exit_code, testing::kFerctlUnreachable) << no_cert.err;
  const ChildResult plain = ferctl({"model", "info"});
  EXPECT_EQ(plain.exit_code, testing::kFerctlUnreachable) << plain.err;
  // A certificate without its key is a usage error.
  EXPECT_EQ(ferctl({"--tls_cert=" + pki.path("client.pem"), "model", "info"}).exit_code,
            testing::kFerctlUsage);
}

}  // namespace
}  // namespace fer
