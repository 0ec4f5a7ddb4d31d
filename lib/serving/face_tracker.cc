#include "lib/serving/face_tracker.h"

#include <algorithm>
#include <limits>

namespace fer {

Box BoundingBox(const std::vector<Point>& points) {
  if (points.empty()) return {};
  float x0 = std::numeric_limits<float>::infinity(), y0 = x0;
  float x1 = -x0, y1 = -x0;
  for (const Point& p : points) {
    x0 = std::min(x0, p.x);
    y0 = std::min(y0, p.y);
    x1 = std::max(x1, p.x);
    y1 = std::max(y1, p.y);
  }
  return {x0, y0, x1 - x0, y1 - y0};
}

FaceTracker::FaceTracker(int interval, float min_iou)
    : interval_(std::max(1, interval)), min_iou_(min_iou) {}

Box FaceTracker::PredictBox(const Track& track, const Box& landmarks) const {
  return {landmarks.x + track.dx * landmarks.width, landmarks.y + track.dy * landmarks.height,
          track.sx * landmarks.width, track.sy * landmarks.height};
}

bool FaceTracker::MustDetect(std::vector<FaceDetection>* boxes) const {
  if (interval_ <= 1 || tracks_.empty() || frames_since_detection_ + 1 >= interval_) return true;
  boxes->clear();
  for (const Track& track : tracks_) boxes->push_back({track.predicted, track.score});
  return false;
}

void FaceTracker::Detected(const std::vector<FaceAnalysis>& faces) {
  tracks_.clear();
  frames_since_detection_ = 0;
  if (interval_ <= 1) return;
  for (const FaceAnalysis& face : faces) {
    const Box l = BoundingBox(face.landmarks);
    const Box& d = face.detection.box;
    if (!(l.width > 0 && l.height > 0 && d.width > 0 && d.height > 0)) continue;
    Track track;
    track.dx = (d.x - l.x) / l.width;
    track.dy = (d.y - l.y) / l.height;
    track.sx = d.width / l.width;
    track.sy = d.height / l.height;
    track.score = face.detection.score;
    track.predicted = d;  // the next frame starts from the detected box
    tracks_.push_back(track);
  }
}

bool FaceTracker::Tracked(const std::vector<FaceAnalysis>& faces) {
  ++frames_since_detection_;
  if (faces.size() != tracks_.size()) {  // a face's box left the image
    tracks_.clear();
    return false;
  }
  std::vector<Track> kept;
  for (const FaceAnalysis& face : faces) {
    // The track whose predicted box this face was located from.
    const Track* track = nullptr;
    float best = 0;
    for (const Track& t : tracks_) {
      const float overlap = IoU(t.predicted, face.detection.box);
      if (overlap > best) best = overlap, track = &t;
    }
    const Box l = BoundingBox(face.landmarks);
    if (track == nullptr || best < 0.99f || !(l.width > 0 && l.height > 0)) {
      tracks_.clear();
      return false;
    }
    // Where the new landmarks put the face against where it was looked for.
    Track next = *track;
    next.predicted = PredictBox(*track, l);
    if (IoU(next.predicted, face.detection.box) < min_iou_) {
      tracks_.clear();
      return false;
    }
    kept.push_back(next);
  }
  tracks_ = std::move(kept);
  return true;
}

}  // namespace fer
