#ifndef FERSERVE_LIB_KERNELS_PARALLEL_WORKERS_H_
#define FERSERVE_LIB_KERNELS_PARALLEL_WORKERS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace fer::kernels {

// Worker threads that run the parts of one parallel loop at a time together
// with the calling thread, whichever thread calls. A worker spins briefly
// after a part, so that the next layer of a network starts without a
// wake-up, then sleeps.
//
// Part k runs on worker k, so that a layer's rows stay with the core that
// computed the previous layer's, unless the caller, done with its own part,
// finds it not yet started: then it runs it itself. After a pause the
// workers sleep, and on a VM waking one costs up to milliseconds (its vCPU
// was given back); a loop no longer waits for that, the worker joins in
// when it is up.
//
// One set serves the whole process (Shared()): with OpenMP every calling
// thread gets a team of its own, and once a server's stream and batcher
// threads hold more OpenMP threads than there are CPUs, libgomp stops
// spinning between regions, so that every layer paid a wake-up.
//
// Loops of several threads at once share the cores by caller instead: from
// the moment two callers overlap until `share_window` after they last did,
// every loop runs on its caller alone (and workers sleep rather than spin),
// so that two networks running side by side take a core each instead of
// interleaving their layers on the workers.
class ParallelWorkers {
 public:
  static constexpr std::chrono::milliseconds kShareWindow{100};

  // The process-wide workers.
  static ParallelWorkers& Shared();

  explicit ParallelWorkers(std::chrono::milliseconds share_window = kShareWindow)
      : share_window_ns_(std::chrono::nanoseconds(share_window).count()) {}
  ParallelWorkers(const ParallelWorkers&) = delete;
  ParallelWorkers& operator=(const ParallelWorkers&) = delete;
  // Stops and joins the workers.
  ~ParallelWorkers();

  // Loops of more parts run on their caller alone.
  static constexpr int kMaxParts = 1024;

  // Runs body(part) for every part in [0, parts) and returns when all are
  // done: part 0 on the caller, each other on its worker (started as needed,
  // parts - 1 of them) or, when that has not started it by the time the
  // caller is done with its own, on the caller. Inside a part, and while
  // callers share the cores (see above), all parts run on the caller, in
  // order. `body` must not throw.
  void Run(int parts, const std::function<void(int)>& body);

  // Workers started so far.
  int workers() const;

 private:
  void StartWorkers(int count) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void WorkerLoop(int index, uint64_t seen);
  // Waits for a ticket other than `seen`: spins, then sleeps.
  uint64_t NextTicket(uint64_t seen);
  // Claims `part` for the loop of `generation`; false when another thread
  // did (or that loop is over).
  bool Claim(int part, uint64_t generation);
  bool Sharing(int64_t now_ns) const;

  const int64_t share_window_ns_;
  std::atomic<int> callers_{0};             // threads inside Run
  std::atomic<int64_t> share_until_ns_{0};  // steady clock

  // One loop at a time.
  absl::Mutex run_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(run_mu_);
  std::atomic<int> started_{0};

  // The published loop: generation << 16 | parts (0 parts: stop).
  std::atomic<uint64_t> ticket_{0};
  std::atomic<const std::function<void(int)>*> body_{nullptr};
  std::atomic<int> pending_{0};  // parts but 0 not yet done
  // The generation of the loop that last claimed each part: a part runs
  // once, on whichever thread claims it first.
  const std::unique_ptr<std::atomic<uint64_t>[]> claims_ =
      std::make_unique<std::atomic<uint64_t>[]>(kMaxParts);

  // Sleeping workers wait here for the next ticket.
  absl::Mutex wake_mu_;
  absl::CondVar wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace fer::kernels

#endif  // FERSERVE_LIB_KERNELS_PARALLEL_WORKERS_H_
