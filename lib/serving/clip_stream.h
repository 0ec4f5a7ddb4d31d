#ifndef FERSERVE_LIB_SERVING_CLIP_STREAM_H_
#define FERSERVE_LIB_SERVING_CLIP_STREAM_H_

#include <cstdint>
#include <deque>
#include <vector>

#include "lib/vision/image.h"

namespace fer {

// The per-stream ring of face crops a clip model runs on: the last
// `frames` crops of the tracked (largest) face, and when the next clip
// prediction is due. The first clip is due as soon as the ring is full;
// after that one every `stride` frames. A frame without a face breaks the
// track: the ring empties and fills again from the next face. Not
// thread-safe (one per stream).
class ClipStream {
 public:
  // frames >= 1, stride >= 1.
  ClipStream(int frames, int stride);

  // Adds the crop of frame `frame_index`; an empty image means no face.
  // Returns true when a clip prediction is due now (Clip() is ready).
  bool Add(RgbImage crop, uint64_t frame_index);

  // The ring's crops, oldest first.
  std::vector<RgbImage> Clip() const { return {ring_.begin(), ring_.end()}; }
  // Index of the ring's oldest frame.
  uint64_t first_frame_index() const { return first_index_; }
  int size() const { return static_cast<int>(ring_.size()); }
  int frames() const { return frames_; }
  int stride() const { return stride_; }

 private:
  int frames_;
  int stride_;
  std::deque<RgbImage> ring_;
  std::deque<uint64_t> indices_;
  uint64_t first_index_ = 0;
  bool emitted_ = false;  // a clip was due since the ring last filled
  int since_last_ = 0;    // frames added since the last due clip
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_CLIP_STREAM_H_
