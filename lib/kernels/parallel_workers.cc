#include "lib/kernels/parallel_workers.h"

#include <chrono>

namespace fer::kernels {
namespace {

// True on a thread while it runs a part: a loop started there runs serially.
thread_local bool in_part = false;

constexpr uint64_t kPartsMask = 0xffff;
static_assert(ParallelWorkers::kMaxParts <= kPartsMask, "a ticket holds the part count");
// How long a worker spins for the next loop before it sleeps: longer than
// the gap between two layers of a network, short enough to hand the core
// back soon when no loop follows.
constexpr std::chrono::microseconds kSpin(200);

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

ParallelWorkers& ParallelWorkers::Shared() {
  static ParallelWorkers* const workers = new ParallelWorkers();  // lives until exit
  return *workers;
}

ParallelWorkers::~ParallelWorkers() {
  absl::MutexLock run(&run_mu_);
  const uint64_t generation = (ticket_.load() >> 16) + 1;
  ticket_.store(generation << 16);  // 0 parts: stop
  {
    absl::MutexLock wake(&wake_mu_);
    wake_.SignalAll();
  }
  for (std::thread& thread : threads_) thread.join();
}

int ParallelWorkers::workers() const { return started_.load(); }

void ParallelWorkers::StartWorkers(int count) {
  while (static_cast<int>(threads_.size()) < count) {
    const int index = static_cast<int>(threads_.size()) + 1;
    threads_.emplace_back([this, index, seen = ticket_.load()] { WorkerLoop(index, seen); });
  }
  started_.store(static_cast<int>(threads_.size()));
}

bool ParallelWorkers::Sharing(int64_t now_ns) const {
  return now_ns < share_until_ns_.load(std::memory_order_relaxed);
}

uint64_t ParallelWorkers::NextTicket(uint64_t seen) {
  const int64_t until = NowNs() + std::chrono::nanoseconds(kSpin).count();
  for (int i = 1;; ++i) {
    const uint64_t ticket = ticket_.load(std::memory_order_acquire);
    if (ticket != seen) return ticket;
    CpuRelax();
    if (i % 256 == 0) {
      const int64_t now = NowNs();
      if (now > until || Sharing(now)) break;  // no spinning against callers' own loops
    }
  }
  // Sleep. The caller reads sleepers_ after publishing its ticket and this
  // thread reads the ticket after counting itself in (both sequentially
  // consistent), so at least one of them sees the other: either this thread
  // sees the new ticket, or the caller wakes it under wake_mu_.
  absl::MutexLock lock(&wake_mu_);
  sleepers_.fetch_add(1);
  uint64_t ticket;
  while ((ticket = ticket_.load()) == seen) wake_.Wait(&wake_mu_);
  sleepers_.fetch_sub(1);
  return ticket;
}

bool ParallelWorkers::Claim(int part, uint64_t generation) {
  // A loop ends only once all its parts are claimed, so a worker late for
  // one finds its part taken and never touches the next loop's.
  uint64_t last = claims_[part].load(std::memory_order_relaxed);
  return last < generation &&
         claims_[part].compare_exchange_strong(last, generation, std::memory_order_acq_rel);
}

void ParallelWorkers::WorkerLoop(int index, uint64_t seen) {
  for (;;) {
    seen = NextTicket(seen);
    const int parts = static_cast<int>(seen & kPartsMask);
    if (parts == 0) return;
    if (index >= parts || !Claim(index, seen >> 16)) continue;
    in_part = true;
    (*body_.load(std::memory_order_relaxed))(index);
    in_part = false;
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

void ParallelWorkers::Run(int parts, const std::function<void(int)>& body) {
  auto serially = [&] {
    for (int part = 0; part < parts; ++part) body(part);
  };
  if (parts <= 1 || parts > kMaxParts || in_part) return serially();
  const int others = callers_.fetch_add(1);
  struct Leave {
    std::atomic<int>* callers;
    ~Leave() { callers->fetch_sub(1); }
  } leave{&callers_};
  const int64_t now = NowNs();
  if (others > 0) share_until_ns_.store(now + share_window_ns_, std::memory_order_relaxed);
  if (others > 0 || Sharing(now) || !run_mu_.TryLock()) return serially();
  StartWorkers(parts - 1);
  body_.store(&body, std::memory_order_relaxed);
  pending_.store(parts - 1, std::memory_order_relaxed);
  const uint64_t generation = (ticket_.load() >> 16) + 1;
  ticket_.store(generation << 16 | static_cast<uint64_t>(parts));  // publishes body_, pending_
  if (sleepers_.load() > 0) {
    absl::MutexLock wake(&wake_mu_);
    wake_.SignalAll();
  }
  in_part = true;
  body(0);
  // The parts no worker has started yet: a sleeping worker may take
  // milliseconds to wake.
  for (int part = 1; part < parts; ++part) {
    if (!Claim(part, generation)) continue;
    body(part);
    pending_.fetch_sub(1, std::memory_order_relaxed);
  }
  in_part = false;
  for (int i = 1; pending_.load(std::memory_order_acquire) > 0; ++i) {
    if (i % 1024 == 0) {
      std::this_thread::yield();
    } else {
      CpuRelax();
    }
  }
  run_mu_.Unlock();
}

}  // namespace fer::kernels
