#include "lib/serving/model_call.h"

#include <new>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace fer {
namespace {

constexpr absl::string_view kModelExceptionPayload = "type.googleapis.com/ferserve.ModelException";

absl::Status Marked(absl::Status status) {
  status.SetPayload(kModelExceptionPayload, absl::Cord("1"));
  return status;
}

}  // namespace

absl::Status ModelExceptionStatus(absl::string_view what, const std::exception& e) {
  absl::string_view message = e.what();
  // LibTorch's messages go on with a C++ backtrace after the first line.
  message = message.substr(0, message.find('\n'));
  const std::string lower = absl::AsciiStrToLower(message);
  const bool out_of_memory = dynamic_cast<const std::bad_alloc*>(&e) != nullptr ||
                             absl::StrContains(lower, "out of memory") ||
                             absl::StrContains(lower, "not enough memory");
  if (out_of_memory) {
    return Marked(absl::ResourceExhaustedError(
        absl::StrCat(what, " ran out of memory: ", message, "; retry later")));
  }
  return Marked(absl::InternalError(absl::StrCat(what, " failed: ", message)));
}

bool IsModelException(const absl::Status& status) {
  return status.GetPayload(kModelExceptionPayload).has_value();
}

}  // namespace fer
