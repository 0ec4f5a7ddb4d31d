#ifndef FERSERVE_SERVER_TLS_CREDENTIALS_H_
#define FERSERVE_SERVER_TLS_CREDENTIALS_H_

#include <grpcpp/security/server_credentials.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "lib/serving/distinct_problem_log.h"
#include "lib/serving/periodic_task.h"

namespace fer {

// The PEM files of a TLS server: its certificate chain and private key, and
// for mutual TLS the CA bundle that client certificates must chain to.
struct TlsFiles {
  std::string cert;
  std::string key;
  std::string client_ca;  // empty: clients are not asked for certificates
};

// A TLS server's credentials from its files, renewed while it runs.
//
// The files are read and checked at Create (each readable, the certificate
// and key in PEM and belonging together, the CA bundle holding a
// certificate), so a mistake stops the start-up. With a positive reload
// interval they are read again at that interval, and a renewed set that
// passes the same checks is what new handshakes use from then on (about a
// second later), so certificates renewed by cert-manager or a rotated
// Kubernetes secret are served without a restart; a set that fails them
// (half written, a key for another certificate) is logged to `log` and the
// previous one stays in use. gRPC reads credentials only from files: the checked set
// is copied into a private folder (mode 0700) under $TMPDIR, removed again
// when this object goes.
class TlsCredentials {
 public:
  using Log = std::function<void(absl::string_view line)>;

  static absl::StatusOr<std::unique_ptr<TlsCredentials>> Create(const TlsFiles& files,
                                                                absl::Duration reload_interval,
                                                                const Log& log);
  ~TlsCredentials();
  TlsCredentials(const TlsCredentials&) = delete;
  TlsCredentials& operator=(const TlsCredentials&) = delete;

  // For grpc::ServerBuilder::AddListeningPort; valid while this object lives.
  std::shared_ptr<grpc::ServerCredentials> server_credentials() const { return credentials_; }

 private:
  TlsCredentials(TlsFiles files, const Log& log);
  absl::Status Publish(const std::string& cert, const std::string& key,
                       const std::string& client_ca);
  void Reload();

  const TlsFiles files_;
  const Log log_;
  std::string folder_;  // the private copies, in generations
  int generation_ = 0;
  std::string published_;        // the contents last copied, to see changes
  DistinctProblemLog refusals_;  // Reload's own
  std::shared_ptr<grpc::ServerCredentials> credentials_;

  std::unique_ptr<PeriodicTask> reloader_;  // last: stops before the rest goes
};

}  // namespace fer

#endif  // FERSERVE_SERVER_TLS_CREDENTIALS_H_
