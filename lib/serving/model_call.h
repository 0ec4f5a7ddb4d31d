#ifndef FERSERVE_LIB_SERVING_MODEL_CALL_H_
#define FERSERVE_LIB_SERVING_MODEL_CALL_H_

#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace fer {

// The Status for an exception thrown by model code: ResourceExhausted when
// memory ran out (std::bad_alloc, LibTorch's "CUDA out of memory" and its
// CPU allocator's "not enough memory": a later retry, with fewer requests
// in flight, may succeed), Internal otherwise; the message names `what` and
// keeps the exception's first line.
// The status is marked (a payload) so that IsModelException tells it from
// the same codes' other causes.
absl::Status ModelExceptionStatus(absl::string_view what, const std::exception& e);

// Whether `status` is (a copy of) one ModelExceptionStatus made.
bool IsModelException(const absl::Status& status);

// Runs fn (returning absl::Status or absl::StatusOr<T>) and answers an
// exception thrown inside it with ModelExceptionStatus. LibTorch reports
// its failures as exceptions; called through this, a failed execution
// becomes its caller's error instead of unwinding through the server.
template <typename Fn>
auto CallModel(absl::string_view what, Fn&& fn) -> decltype(std::forward<Fn>(fn)()) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const std::exception& e) {
    return ModelExceptionStatus(what, e);
  }
}

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_MODEL_CALL_H_
