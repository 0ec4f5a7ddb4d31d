#include "lib/serving/stream_admission.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/time/clock.h"

namespace fer {
namespace {

TEST(StreamAdmissionTest, RefusesBeyondTheLimit) {
  StreamAdmission admission(2);
  auto a = admission.Admit();
  auto b = admission.Admit();
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = admission.Admit();
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted);
  a->reset();  // one stream ends
  EXPECT_TRUE(admission.Admit().ok());
}

TEST(StreamAdmissionTest, DrainingRefusesNewStreamsAndWaitsForOpenOnes) {
  StreamAdmission admission(4);
  auto open = admission.Admit();
  ASSERT_TRUE(open.ok());
  admission.StartDraining();
  EXPECT_TRUE(admission.draining());
  EXPECT_EQ(admission.Admit().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(admission.WaitIdle(absl::Now() + absl::Milliseconds(20)));
  std::thread finisher([&] {
    absl::SleepFor(absl::Milliseconds(30));
    open->reset();
  });
  EXPECT_TRUE(admission.WaitIdle(absl::Now() + absl::Seconds(10)));
  finisher.join();
  EXPECT_EQ(admission.open_streams(), 0);
}

}  // namespace
}  // namespace fer
