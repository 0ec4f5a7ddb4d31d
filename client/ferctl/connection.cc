#include "client/ferctl/connection.h"

#include <chrono>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/files/file_contents.h"

ABSL_FLAG(std::string, address, "127.0.0.1:50051", "ferserve's gRPC address, host:port.");
ABSL_FLAG(bool, tls, false, "Connect with TLS (system roots unless --tls_ca is given).");
ABSL_FLAG(std::string, tls_ca, "", "PEM file of the CA certificates to trust (implies --tls).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate chain for mutual TLS (implies --tls).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name to verify the server's certificate against, when it is not --address's host.");
ABSL_FLAG(std::string, token, "",
          "Bearer token, sent as 'authorization: Bearer TOKEN' metadata on every call.");
ABSL_FLAG(absl::Duration, deadline, absl::ZeroDuration(),
          "Deadline of each call, e.g. 30s or 5m; 0 means 10s for unary calls and none for "
          "streams (enroll, adapt, predict).");

namespace ferctl {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  absl::StatusOr<std::string> pem = fer::ReadFileContents(path, "--" + flag);
  if (!pem.ok()) return absl::InvalidArgumentError(pem.status().message());
  return pem;
}

}  // namespace

absl::StatusOr<Connection> Connection::FromFlags() {
  Connection c;
  c.address_ = absl::GetFlag(FLAGS_address);
  c.token_ = absl::GetFlag(FLAGS_token);
  c.deadline_s_ = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_deadline));
  const std::string ca = absl::GetFlag(FLAGS_tls_ca);
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  if (cert.empty() != key.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (absl::GetFlag(FLAGS_tls) || !ca.empty() || !cert.empty()) {
    grpc::SslCredentialsOptions options;
    if (!ca.empty()) {
      absl::StatusOr<std::string> pem = ReadPem("tls_ca", ca);
      if (!pem.ok()) return pem.status();
      options.pem_root_certs = *pem;
    }
    if (!cert.empty()) {
      absl::StatusOr<std::string> chain = ReadPem("tls_cert", cert);
      if (!chain.ok()) return chain.status();
      absl::StatusOr<std::string> private_key = ReadPem("tls_key", key);
      if (!private_key.ok()) return private_key.status();
      options.pem_cert_chain = *chain;
      options.pem_private_key = *private_key;
    }
    credentials = grpc::SslCredentials(options);
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  if (const std::string name = absl::GetFlag(FLAGS_tls_server_name); !name.empty()) {
    args.SetSslTargetNameOverride(name);
  }
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  c.channel_ = grpc::CreateCustomChannel(c.address_, credentials, args);
  return c;
}

std::unique_ptr<fer::v1::ExpressionService::Stub> Connection::NewStub() const {
  return fer::v1::ExpressionService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Connection::NewContext(double default_deadline_s) const {
  auto context = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) context->AddMetadata("authorization", "Bearer " + token_);
  const double seconds = deadline_s_ > 0 ? deadline_s_ : default_deadline_s;
  if (seconds > 0) {
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6)));
  }
  return context;
}

}  // namespace ferctl
