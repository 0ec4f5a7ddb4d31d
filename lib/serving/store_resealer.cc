#include "lib/serving/store_resealer.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace fer {

StoreResealer::StoreResealer(ProfileStore* store, std::string key_id, const Log& log,
                             const StoreResealerOptions& options)
    : store_(store), key_id_(std::move(key_id)), log_(log), options_(options), thread_([this] {
        Run();
      }) {}

StoreResealer::~StoreResealer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

bool StoreResealer::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void StoreResealer::Run() {
  log_(absl::StrCat("store: resealing every record with key ", key_id_));
  while (true) {
    absl::Time next_progress = absl::Now() + options_.progress_interval;
    absl::StatusOr<ResealReport> report = store_->Reseal([&](const ResealReport& so_far) {
      if (absl::Now() >= next_progress) {
        log_(absl::StrCat("store: resealing: ", so_far.profiles, " profiles so far, ",
                          so_far.resealed, " of ", so_far.records, " records sealed again"));
        next_progress = absl::Now() + options_.progress_interval;
      }
      return !stopping();
    });
    if (!report.ok()) {
      log_(absl::StrCat(
          "store: resealing failed: ", report.status().ToString(),
          absl::IsUnavailable(report.status())
              ? absl::StrCat("; trying again in ", absl::FormatDuration(options_.retry))
              : ""));
      if (!absl::IsUnavailable(report.status())) return;
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.retry)) return;
      continue;
    }
    std::string line =
        absl::StrCat(report->stopped ? "store: resealing stopped after " : "store: resealed ",
                     report->profiles, " profiles: ", report->resealed, " of ", report->records,
                     " records sealed again with key ", key_id_);
    if (report->failed_profiles > 0) {
      absl::StrAppend(&line, "; ", report->failed_profiles,
                      " profiles left as they were (older keys still needed), first: ",
                      report->first_error.ToString());
    } else if (report->stopped) {
      absl::StrAppend(&line, "; the next start with --store_reseal goes on");
    } else {
      absl::StrAppend(&line, "; every record is on key ", key_id_,
                      ": once every replica seals with it, older keys are no longer needed");
    }
    log_(line);
    return;
  }
}

}  // namespace fer
