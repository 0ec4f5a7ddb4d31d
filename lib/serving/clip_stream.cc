#include "lib/serving/clip_stream.h"

#include <algorithm>
#include <utility>

namespace fer {

ClipStream::ClipStream(int frames, int stride)
    : frames_(std::max(frames, 1)), stride_(std::max(stride, 1)) {}

bool ClipStream::Add(RgbImage crop, uint64_t frame_index) {
  if (crop.empty()) {
    ring_.clear();
    indices_.clear();
    emitted_ = false;
    since_last_ = 0;
    return false;
  }
  ring_.push_back(std::move(crop));
  indices_.push_back(frame_index);
  if (static_cast<int>(ring_.size()) > frames_) {
    ring_.pop_front();
    indices_.pop_front();
  }
  first_index_ = indices_.front();
  if (static_cast<int>(ring_.size()) < frames_) return false;
  if (!emitted_) {
    emitted_ = true;
    since_last_ = 0;
    return true;
  }
  if (++since_last_ < stride_) return false;
  since_last_ = 0;
  return true;
}

}  // namespace fer
