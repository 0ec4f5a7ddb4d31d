#ifndef FERSERVE_LIB_SERVING_FACE_TRACKER_H_
#define FERSERVE_LIB_SERVING_FACE_TRACKER_H_

#include <vector>

#include "lib/model/face_types.h"

namespace fer {

// Detection every n-th frame of a stream, landmark tracking in between: on
// the frames between two detections each face's detector box is predicted
// from its 68 landmarks of the previous frame, so the detector (the most
// expensive network of the pipeline) runs on one frame in n. The box keeps
// the relation to the landmarks' bounding box that the face's last detected
// box had (offset and scale, per face), so the landmark net sees crops
// framed as the detector frames them.
//
// The detector runs again before n frames when there is nothing to track
// (no face on the previous frame) and when a track is lost: a tracked face
// whose new landmarks imply a box overlapping the predicted one by less than
// min_iou (it moved too fast, or the crop no longer holds it). A face that
// appears, or one that leaves without its landmarks jumping, is seen at the
// next detection, at most n - 1 frames late. Tracked faces keep the
// detector score of their last detection. Not thread-safe (one per stream).
class FaceTracker {
 public:
  static constexpr float kDefaultMinIou = 0.5f;

  // interval 1: the detector runs on every frame (no tracking).
  explicit FaceTracker(int interval, float min_iou = kDefaultMinIou);

  // Whether the next frame must run the detector. When not, `boxes` gets
  // the boxes to use instead (AnalyzeOptions::detections).
  bool MustDetect(std::vector<FaceDetection>* boxes) const;

  // Records the faces found on a frame by the detector (a detection
  // frame): they become the tracks.
  void Detected(const std::vector<FaceAnalysis>& faces);

  // Records the faces found on a frame from MustDetect's `boxes` (each
  // face's detection is one of them). Returns false, and forgets the
  // tracks, when a track was lost (or a face dropped because its box left
  // the image): the caller then runs the detector on the frame and calls
  // Detected.
  bool Tracked(const std::vector<FaceAnalysis>& faces);

  int interval() const { return interval_; }

 private:
  struct Track {
    // Detector box = landmarks' box shifted by (dx, dy) x its size and
    // scaled by (sx, sy).
    float dx = 0, dy = 0, sx = 1, sy = 1;
    float score = 0;
    Box predicted;  // the box MustDetect gives for the next frame
  };

  Box PredictBox(const Track& track, const Box& landmarks) const;

  int interval_;
  float min_iou_;
  int frames_since_detection_ = 0;
  std::vector<Track> tracks_;
};

// The bounding box of `points`; empty when there are none.
Box BoundingBox(const std::vector<Point>& points);

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_FACE_TRACKER_H_
