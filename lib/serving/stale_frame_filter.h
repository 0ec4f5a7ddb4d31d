#ifndef FERSERVE_LIB_SERVING_STALE_FRAME_FILTER_H_
#define FERSERVE_LIB_SERVING_STALE_FRAME_FILTER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fer {

// Picks out the frames of a live stream that arrive too late to be worth
// analyzing (StreamConfig.max_frame_lag_ms). A frame's lag is how much later
// it arrives than its capture timestamp says it should, against the stream's
// least delayed frame:
//
//   lag = (arrival - timestamp) - reference,
//   reference = the smallest (arrival - timestamp) so far,
//
// so the sender's and the server's clocks need not agree; a frame that
// waited behind others (in the server, the network or the sender) has a lag
// of about that wait. The reference may rise by at most 1 ms per second of
// the stream, so that a capture clock running slower than the server's does
// not read as a growing lag. Not thread-safe (one per stream).
class StaleFrameFilter {
 public:
  explicit StaleFrameFilter(absl::Duration max_lag) : max_lag_(max_lag) {}

  // The frame captured at `timestamp_us` (microseconds, any origin) that
  // arrived at `arrival`: true to analyze it, false to skip it (its lag is
  // over the maximum). InvalidArgument when the timestamp is not greater
  // than the previous frame's.
  absl::StatusOr<bool> Admit(int64_t timestamp_us, absl::Time arrival);

  // When the lag of the frame captured at `timestamp_us` passes the maximum
  // (after Admit: a frame admitted, and still waiting for the models then,
  // is as late as one skipped on arrival).
  absl::Time StaleAt(int64_t timestamp_us) const {
    return absl::UnixEpoch() + absl::Microseconds(timestamp_us) + reference_ + max_lag_;
  }

  // The lag of the last admitted or skipped frame.
  absl::Duration last_lag() const { return last_lag_; }

 private:
  absl::Duration max_lag_;
  bool started_ = false;
  int64_t last_timestamp_us_ = 0;
  absl::Time last_arrival_;
  absl::Duration reference_;
  absl::Duration last_lag_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_STALE_FRAME_FILTER_H_
