#include "lib/serving/clip_smoother.h"

#include <algorithm>

namespace fer {

ClipSmoother::ClipSmoother(size_t window, size_t num_classes)
    : window_(std::max<size_t>(window, 1)), num_classes_(num_classes), sum_(num_classes, 0.0) {}

void ClipSmoother::Add(const std::vector<float>& probabilities) {
  const bool has_face = probabilities.size() == num_classes_ && num_classes_ > 0;
  frames_.push_back(has_face ? probabilities : std::vector<float>());
  if (has_face) {
    for (size_t i = 0; i < num_classes_; ++i) sum_[i] += probabilities[i];
    ++with_face_;
  }
  if (frames_.size() > window_) {
    const std::vector<float>& oldest = frames_.front();
    if (!oldest.empty()) {
      for (size_t i = 0; i < num_classes_; ++i) sum_[i] -= oldest[i];
      --with_face_;
    }
    frames_.pop_front();
  }
  if (with_face_ == 0) std::fill(sum_.begin(), sum_.end(), 0.0);  // drop rounding residue
}

std::vector<float> ClipSmoother::Mean() const {
  if (with_face_ == 0) return {};
  std::vector<float> mean(num_classes_);
  for (size_t i = 0; i < num_classes_; ++i) {
    mean[i] = static_cast<float>(sum_[i] / static_cast<double>(with_face_));
  }
  return mean;
}

}  // namespace fer
