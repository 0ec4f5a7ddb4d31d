#include "lib/serving/tenant_tokens_file.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace fer {

TenantTokensFile::TenantTokensFile(std::string path, const Log& log,
                                   std::shared_ptr<const TenantTokens> tokens)
    : path_(std::move(path)), log_(log), problems_(log), tokens_(std::move(tokens)) {}

absl::StatusOr<std::unique_ptr<TenantTokensFile>> TenantTokensFile::Open(
    const std::string& path, absl::Duration reload_interval, const Log& log) {
  absl::StatusOr<TenantTokens> tokens = TenantTokens::ReadFile(path);
  if (!tokens.ok()) return tokens.status();
  std::unique_ptr<TenantTokensFile> file(
      new TenantTokensFile(path, log, std::make_shared<const TenantTokens>(*std::move(tokens))));
  if (reload_interval > absl::ZeroDuration()) {
    file->reloader_ =
        std::make_unique<PeriodicTask>(reload_interval, [raw = file.get()] { raw->Reload(); });
  }
  return file;
}

std::shared_ptr<const TenantTokens> TenantTokensFile::current() const {
  absl::MutexLock lock(&mu_);
  return tokens_;
}

void TenantTokensFile::Reload() {
  absl::StatusOr<TenantTokens> read = TenantTokens::ReadFile(path_);
  if (!read.ok()) {
    problems_.Report("tokens not reloaded, keeping the previous ones: ", read.status().message());
    return;
  }
  problems_.Clear();
  if (*read == *current()) return;
  const size_t count = read->size();
  auto tokens = std::make_shared<const TenantTokens>(*std::move(read));
  {
    absl::MutexLock lock(&mu_);
    tokens_ = std::move(tokens);
  }
  if (log_) log_(absl::StrCat("tokens reloaded from ", path_, ": ", count, " token(s)"));
}

}  // namespace fer
