#ifndef FERSERVE_LIB_MODEL_STATUS_MACROS_H_
#define FERSERVE_LIB_MODEL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// FER_RETURN_IF_ERROR(expr): returns the absl::Status `expr` when not OK.
#define FER_RETURN_IF_ERROR(...)                      \
  do {                                                \
    const ::absl::Status fer_status_ = (__VA_ARGS__); \
    if (!fer_status_.ok()) return fer_status_;        \
  } while (false)

// FER_ASSIGN_OR_RETURN(lhs, expr): evaluates the absl::StatusOr `expr`;
// returns its status when not OK, else moves its value into `lhs` (which may
// declare a variable).
#define FER_ASSIGN_OR_RETURN(lhs, ...) \
  FER_ASSIGN_OR_RETURN_IMPL_(FER_STATUS_CONCAT_(fer_status_or_, __LINE__), lhs, __VA_ARGS__)
#define FER_ASSIGN_OR_RETURN_IMPL_(var, lhs, ...) \
  auto var = (__VA_ARGS__);                       \
  if (!var.ok()) return std::move(var).status();  \
  lhs = std::move(*var)
#define FER_STATUS_CONCAT_INNER_(a, b) a##b
#define FER_STATUS_CONCAT_(a, b) FER_STATUS_CONCAT_INNER_(a, b)

#endif  // FERSERVE_LIB_MODEL_STATUS_MACROS_H_
