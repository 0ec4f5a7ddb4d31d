#include "lib/metrics/server_metrics.h"

#include <gtest/gtest.h>

namespace fer {
namespace {

bool Contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(ServerMetricsTest, ExportsCountersHistogramsAndGauges) {
  ServerMetrics metrics;
  metrics.RecordRequest("StreamPredict", "OK");
  metrics.RecordRequest("StreamPredict", "OK");
  metrics.RecordRequest("StreamPredict", "INVALID_ARGUMENT");
  metrics.ObserveStage(FrameStage::kBackbone, 0.004);
  metrics.AddFrames(3, 2);
  metrics.StreamStarted();
  metrics.SetModelInfo({"face-api", "ssd_mobilenetv1", "cpu", 256, 7});
  const std::string text = metrics.Serialize();
  EXPECT_TRUE(Contains(text, "ferserve_requests_total{code=\"OK\",rpc=\"StreamPredict\"} 2"))
      << text;
  EXPECT_TRUE(Contains(text, "ferserve_requests_total{code=\"INVALID_ARGUMENT\"")) << text;
  EXPECT_TRUE(Contains(text, "ferserve_frame_stage_duration_seconds_count{stage=\"backbone\"} 1"));
  EXPECT_TRUE(Contains(text, "ferserve_frames_total 3"));
  EXPECT_TRUE(Contains(text, "ferserve_faces_total 2"));
  EXPECT_TRUE(Contains(text, "ferserve_inflight_streams 1"));
  EXPECT_TRUE(Contains(text, "detector=\"ssd_mobilenetv1\""));
  metrics.StreamEnded();
  EXPECT_TRUE(Contains(metrics.Serialize(), "ferserve_inflight_streams 0"));
}

}  // namespace
}  // namespace fer
