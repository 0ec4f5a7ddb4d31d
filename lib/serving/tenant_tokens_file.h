#ifndef FERSERVE_LIB_SERVING_TENANT_TOKENS_FILE_H_
#define FERSERVE_LIB_SERVING_TENANT_TOKENS_FILE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/serving/distinct_problem_log.h"
#include "lib/serving/periodic_task.h"
#include "lib/serving/tenant_tokens.h"

namespace fer {

// Tenants' tokens from a file (TenantTokens' format), read again at an
// interval so that tokens are added and revoked without a restart: a call
// authenticates against the file as it was at the last read. A read that
// fails (the file missing, or a line malformed) keeps the tokens read before
// and is reported to `log`, once per distinct problem. Thread-safe.
class TenantTokensFile {
 public:
  using Log = std::function<void(absl::string_view line)>;

  // Reads `path` now: its errors are Open's. A zero `reload_interval` reads
  // it only now.
  static absl::StatusOr<std::unique_ptr<TenantTokensFile>> Open(const std::string& path,
                                                                absl::Duration reload_interval,
                                                                const Log& log);
  TenantTokensFile(const TenantTokensFile&) = delete;
  TenantTokensFile& operator=(const TenantTokensFile&) = delete;

  // The tokens of the last successful read.
  std::shared_ptr<const TenantTokens> current() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  TenantTokensFile(std::string path, const Log& log, std::shared_ptr<const TenantTokens> tokens);
  void Reload();

  const std::string path_;
  const Log log_;
  DistinctProblemLog problems_;  // Reload's own

  mutable absl::Mutex mu_;
  std::shared_ptr<const TenantTokens> tokens_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<PeriodicTask> reloader_;  // last: stops before the rest goes
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_TENANT_TOKENS_FILE_H_
