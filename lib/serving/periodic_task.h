#ifndef FERSERVE_LIB_SERVING_PERIODIC_TASK_H_
#define FERSERVE_LIB_SERVING_PERIODIC_TASK_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fer {

// Runs a task every `interval` (first one interval after construction) on a
// thread of its own, until destroyed; the destructor ends the wait at once
// and waits for a run in progress. Declare it after what the task uses, so
// that it is destroyed first.
class PeriodicTask {
 public:
  PeriodicTask(absl::Duration interval, std::function<void()> task);
  ~PeriodicTask();
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

 private:
  void Loop(absl::Duration interval, const std::function<void()>& task);

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_PERIODIC_TASK_H_
