#ifndef FERSERVE_LIB_SERVING_CLIP_SMOOTHER_H_
#define FERSERVE_LIB_SERVING_CLIP_SMOOTHER_H_

#include <cstddef>
#include <deque>
#include <vector>

namespace fer {

// Clip-level probabilities: the mean of per-frame probabilities over the most
// recent `window` frames of a stream. Frames without a face occupy a slot in
// the window but contribute no probabilities, so a face that left the picture
// ages out after `window` frames. Not thread-safe (one per stream).
class ClipSmoother {
 public:
  ClipSmoother(size_t window, size_t num_classes);

  // Adds one frame; `probabilities` is empty when the frame had no face,
  // otherwise num_classes values.
  void Add(const std::vector<float>& probabilities);

  // Frames with a face currently in the window.
  size_t frames_with_face() const { return with_face_; }

  // Mean probabilities over the frames with a face; empty when there is none.
  std::vector<float> Mean() const;

 private:
  size_t window_;
  size_t num_classes_;
  std::deque<std::vector<float>> frames_;
  std::vector<double> sum_;
  size_t with_face_ = 0;
};

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_CLIP_SMOOTHER_H_
