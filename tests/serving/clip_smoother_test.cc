#include "lib/serving/clip_smoother.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fer {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatNear;
using ::testing::IsEmpty;

TEST(ClipSmootherTest, EmptyUntilAFaceArrives) {
  ClipSmoother smoother(3, 2);
  EXPECT_THAT(smoother.Mean(), IsEmpty());
  smoother.Add({});
  EXPECT_THAT(smoother.Mean(), IsEmpty());
  EXPECT_EQ(smoother.frames_with_face(), 0u);
}

TEST(ClipSmootherTest, AveragesOverTheWindowOnly) {
  ClipSmoother smoother(2, 2);
  smoother.Add({1.f, 0.f});
  smoother.Add({0.f, 1.f});
  EXPECT_THAT(smoother.Mean(), ElementsAre(FloatNear(0.5f, 1e-6), FloatNear(0.5f, 1e-6)));
  smoother.Add({0.f, 1.f});  // the first frame leaves the window
  EXPECT_THAT(smoother.Mean(), ElementsAre(FloatNear(0.f, 1e-6), FloatNear(1.f, 1e-6)));
  EXPECT_EQ(smoother.frames_with_face(), 2u);
}

TEST(ClipSmootherTest, FramesWithoutFaceAgeOutOldFaces) {
  ClipSmoother smoother(2, 2);
  smoother.Add({0.2f, 0.8f});
  smoother.Add({});
  EXPECT_THAT(smoother.Mean(), ElementsAre(FloatNear(0.2f, 1e-6), FloatNear(0.8f, 1e-6)));
  smoother.Add({});
  EXPECT_THAT(smoother.Mean(), IsEmpty());
}

TEST(ClipSmootherTest, WrongSizedProbabilitiesCountAsNoFace) {
  ClipSmoother smoother(4, 3);
  smoother.Add({0.5f, 0.5f});
  EXPECT_EQ(smoother.frames_with_face(), 0u);
}

TEST(ClipSmootherTest, WindowOfZeroBehavesAsOne) {
  ClipSmoother smoother(0, 1);
  smoother.Add({0.3f});
  smoother.Add({0.7f});
  EXPECT_THAT(smoother.Mean(), ElementsAre(FloatNear(0.7f, 1e-6)));
}

}  // namespace
}  // namespace fer
