#ifndef FERSERVE_TESTS_STORE_HOOKED_BACKEND_H_
#define FERSERVE_TESTS_STORE_HOOKED_BACKEND_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lib/store/kv_backend.h"

namespace fer::testing {

// A KvBackend over a database that other stores share, which runs a hook
// once in its next Transact, as another writer would write then: before the
// transaction, or inside it (after the guard is read, and on Redis watched,
// before the writes are decided; not on RocksDB, whose Transact holds the
// database's write lock).
class HookedBackend : public KvBackend {
 public:
  enum class When { kBeforeTransact, kInsideTransact };

  explicit HookedBackend(std::shared_ptr<KvBackend> real) : real_(std::move(real)) {}

  void RunOnceInNextTransact(When when, std::function<void()> hook) {
    when_ = when;
    hook_ = std::move(hook);
  }
  // Whether the hook is still to run.
  bool hook_pending() const { return hook_ != nullptr; }

  std::string Describe() const override { return real_->Describe(); }
  absl::Status Ping() override { return real_->Ping(); }
  absl::StatusOr<std::vector<std::optional<std::string>>> MultiGet(
      const std::vector<std::string>& keys) override {
    return real_->MultiGet(keys);
  }
  absl::Status Transact(const std::string& guard_key, Decide decide) override {
    std::function<void()> hook = std::exchange(hook_, nullptr);
    if (hook && when_ == When::kBeforeTransact) std::exchange(hook, nullptr)();
    return real_->Transact(
        guard_key,
        [&](const std::optional<std::string>& guard) -> absl::StatusOr<std::vector<KvWrite>> {
          if (hook) std::exchange(hook, nullptr)();
          return decide(guard);
        });
  }
  absl::StatusOr<std::vector<std::string>> ScanKeys(absl::string_view prefix) override {
    return real_->ScanKeys(prefix);
  }

 private:
  std::shared_ptr<KvBackend> real_;
  When when_ = When::kBeforeTransact;
  std::function<void()> hook_;
};

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_STORE_HOOKED_BACKEND_H_
