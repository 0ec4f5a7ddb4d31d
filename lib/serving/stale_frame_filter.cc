#include "lib/serving/stale_frame_filter.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fer {
namespace {

// How fast the reference may rise: 1 ms per second, ten times the drift of
// an ordinary quartz clock (100 ppm).
constexpr int64_t kReferenceRiseDivisor = 1000;

}  // namespace

absl::StatusOr<bool> StaleFrameFilter::Admit(int64_t timestamp_us, absl::Time arrival) {
  const absl::Duration in_flight = (arrival - absl::UnixEpoch()) - absl::Microseconds(timestamp_us);
  if (!started_) {
    started_ = true;
    reference_ = in_flight;
  } else {
    if (timestamp_us <= last_timestamp_us_) {
      return absl::InvalidArgumentError(
          absl::StrCat("timestamp_us ", timestamp_us, " is not after the previous frame's (",
                       last_timestamp_us_, "): max_frame_lag_ms needs each frame's capture time"));
    }
    const absl::Duration since_last = std::max(arrival - last_arrival_, absl::ZeroDuration());
    reference_ = std::min(reference_ + since_last / kReferenceRiseDivisor, in_flight);
  }
  last_timestamp_us_ = timestamp_us;
  last_arrival_ = arrival;
  last_lag_ = in_flight - reference_;
  return last_lag_ <= max_lag_;
}

}  // namespace fer
