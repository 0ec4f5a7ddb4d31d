#include "lib/serving/face_tracker.h"

#include <gtest/gtest.h>

#include <vector>

namespace fer {
namespace {

// A face whose 68 landmarks span `landmarks` (corners and a centre point),
// found from detector box `box`.
FaceAnalysis Face(const Box& box, const Box& landmarks, float score = 0.9f) {
  FaceAnalysis face;
  face.detection = {box, score};
  face.landmarks = {{landmarks.x, landmarks.y},
                    {landmarks.x + landmarks.width, landmarks.y + landmarks.height},
                    {landmarks.x + landmarks.width / 2, landmarks.y + landmarks.height / 3}};
  return face;
}

Box Shifted(const Box& b, float dx, float dy) { return {b.x + dx, b.y + dy, b.width, b.height}; }

void ExpectBoxNear(const Box& got, const Box& want) {
  EXPECT_NEAR(got.x, want.x, 1e-3);
  EXPECT_NEAR(got.y, want.y, 1e-3);
  EXPECT_NEAR(got.width, want.width, 1e-3);
  EXPECT_NEAR(got.height, want.height, 1e-3);
}

const Box kDetected{100, 80, 120, 140};
const Box kLandmarks{110, 110, 100, 100};

TEST(FaceTrackerTest, IntervalOneAlwaysDetects) {
  FaceTracker tracker(1);
  std::vector<FaceDetection> boxes;
  for (int frame = 0; frame < 5; ++frame) {
    EXPECT_TRUE(tracker.MustDetect(&boxes));
    tracker.Detected({Face(kDetected, kLandmarks)});
  }
}

TEST(FaceTrackerTest, DetectsEveryNthFrameAndPredictsBoxesFromLandmarks) {
  FaceTracker tracker(3);
  std::vector<FaceDetection> boxes;
  ASSERT_TRUE(tracker.MustDetect(&boxes));  // nothing to track yet
  tracker.Detected({Face(kDetected, kLandmarks, 0.8f)});

  // Frame 1 starts from the detected box.
  ASSERT_FALSE(tracker.MustDetect(&boxes));
  ASSERT_EQ(boxes.size(), 1u);
  ExpectBoxNear(boxes[0].box, kDetected);
  EXPECT_FLOAT_EQ(boxes[0].score, 0.8f);
  // The face moved 6 px right, 4 down: so did its landmarks.
  ASSERT_TRUE(tracker.Tracked({Face(boxes[0].box, Shifted(kLandmarks, 6, 4))}));

  // Frame 2: the box follows the landmarks, keeping its offset and scale.
  ASSERT_FALSE(tracker.MustDetect(&boxes));
  ASSERT_EQ(boxes.size(), 1u);
  ExpectBoxNear(boxes[0].box, Shifted(kDetected, 6, 4));
  EXPECT_FLOAT_EQ(boxes[0].score, 0.8f);
  ASSERT_TRUE(tracker.Tracked({Face(boxes[0].box, Shifted(kLandmarks, 6, 4))}));

  // Frame 3: a detection frame again.
  EXPECT_TRUE(tracker.MustDetect(&boxes));
}

TEST(FaceTrackerTest, ScaleFollowsTheLandmarks) {
  FaceTracker tracker(10);
  std::vector<FaceDetection> boxes;
  tracker.Detected({Face(kDetected, kLandmarks)});
  ASSERT_FALSE(tracker.MustDetect(&boxes));
  // The face came closer: landmarks 10 % larger about the same corner.
  const Box closer{kLandmarks.x, kLandmarks.y, kLandmarks.width * 1.1f, kLandmarks.height * 1.1f};
  ASSERT_TRUE(tracker.Tracked({Face(boxes[0].box, closer)}));
  ASSERT_FALSE(tracker.MustDetect(&boxes));
  ExpectBoxNear(boxes[0].box,
                {kLandmarks.x - 0.1f * 110, kLandmarks.y - 0.3f * 110, 1.2f * 110, 1.4f * 110});
}

TEST(FaceTrackerTest, ALostTrackAsksForTheDetectorAtOnce) {
  FaceTracker tracker(10);
  std::vector<FaceDetection> boxes;
  tracker.Detected({Face(kDetected, kLandmarks)});
  ASSERT_FALSE(tracker.MustDetect(&boxes));
  // The landmarks jumped most of a face away: the crop no longer held it.
  EXPECT_FALSE(tracker.Tracked({Face(boxes[0].box, Shifted(kLandmarks, 90, 0))}));
  EXPECT_TRUE(tracker.MustDetect(&boxes));
}

TEST(FaceTrackerTest, AFaceDroppedOrUnmatchedIsALostTrack) {
  FaceTracker tracker(10);
  std::vector<FaceDetection> boxes;
  tracker.Detected({Face(kDetected, kLandmarks)});
  ASSERT_FALSE(tracker.MustDetect(&boxes));
  EXPECT_FALSE(tracker.Tracked({}));  // its box left the image
  EXPECT_TRUE(tracker.MustDetect(&boxes));

  tracker.Detected({Face(kDetected, kLandmarks)});
  ASSERT_FALSE(tracker.MustDetect(&boxes));
  // A face from a box the tracker never gave.
  EXPECT_FALSE(tracker.Tracked({Face(Shifted(kDetected, 200, 0), kLandmarks)}));
  EXPECT_TRUE(tracker.MustDetect(&boxes));
}

TEST(FaceTrackerTest, NoFaceMeansDetectOnTheNextFrame) {
  FaceTracker tracker(5);
  std::vector<FaceDetection> boxes;
  tracker.Detected({});
  EXPECT_TRUE(tracker.MustDetect(&boxes));
}

TEST(FaceTrackerTest, TracksSeveralFaces) {
  FaceTracker tracker(4);
  std::vector<FaceDetection> boxes;
  const Box other_box{300, 60, 80, 90}, other_landmarks{305, 80, 70, 65};
  tracker.Detected({Face(kDetected, kLandmarks, 0.9f), Face(other_box, other_landmarks, 0.7f)});
  ASSERT_FALSE(tracker.MustDetect(&boxes));
  ASSERT_EQ(boxes.size(), 2u);
  // Answered in another order (largest first), each is matched to its track.
  ASSERT_TRUE(tracker.Tracked({Face(boxes[1].box, Shifted(other_landmarks, -2, 0)),
                               Face(boxes[0].box, Shifted(kLandmarks, 3, 0))}));
  ASSERT_FALSE(tracker.MustDetect(&boxes));
  ASSERT_EQ(boxes.size(), 2u);
  ExpectBoxNear(boxes[0].box, Shifted(other_box, -2, 0));
  EXPECT_FLOAT_EQ(boxes[0].score, 0.7f);
  ExpectBoxNear(boxes[1].box, Shifted(kDetected, 3, 0));
}

TEST(BoundingBoxTest, SpansThePoints) {
  const Box b = BoundingBox({{3, 4}, {10, 2}, {5, 9}});
  ExpectBoxNear(b, {3, 2, 7, 7});
  EXPECT_EQ(BoundingBox({}).area(), 0);
}

}  // namespace
}  // namespace fer
