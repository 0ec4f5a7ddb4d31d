#ifndef FERSERVE_LIB_SERVING_STORE_RESEALER_H_
#define FERSERVE_LIB_SERVING_STORE_RESEALER_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/store/profile_store.h"

namespace fer {

struct StoreResealerOptions {
  // Wait before trying again while the store is unavailable.
  absl::Duration retry = absl::Seconds(10);
  // Least time between two progress lines.
  absl::Duration progress_interval = absl::Seconds(30);
};

// Seals a profile store's records again with the current key on a thread of
// its own (ProfileStore::Reseal), for key rotation while serving: started
// once, it tries again while the store is unavailable, and reports the
// start, its progress and the outcome to `log`. The destructor stops it
// between two profiles and waits for it.
class StoreResealer {
 public:
  using Log = std::function<void(absl::string_view line)>;

  // `key_id` names the current key in the log.
  StoreResealer(ProfileStore* store, std::string key_id, const Log& log,
                const StoreResealerOptions& options = {});
  ~StoreResealer();
  StoreResealer(const StoreResealer&) = delete;
  StoreResealer& operator=(const StoreResealer&) = delete;

 private:
  void Run();
  bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);

  ProfileStore* const store_;
  const std::string key_id_;
  const Log log_;
  const StoreResealerOptions options_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_STORE_RESEALER_H_
