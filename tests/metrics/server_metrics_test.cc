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

TEST(ServerMetricsTest, ExportsTranslatorCacheAndAdaptation) {
  ServerMetrics metrics;
  metrics.RecordTranslatorLookup("hit", 0, 0);
  metrics.RecordTranslatorLookup("hit", 0, 0);
  metrics.RecordTranslatorLookup("miss", 0.002, 3);
  metrics.RecordTranslatorLookup("revalidated", 0.001, 0);
  metrics.SetTranslatorCacheSize(4, 4096);
  metrics.AddStoreFallbackFrame();
  metrics.ObserveAdaptation(0.5);
  metrics.ObserveStage(FrameStage::kPersonalization, 0.0001);
  const std::string text = metrics.Serialize();
  EXPECT_TRUE(Contains(text, "ferserve_translator_cache_lookups_total{result=\"hit\"} 2")) << text;
  EXPECT_TRUE(Contains(text, "ferserve_translator_cache_lookups_total{result=\"miss\"} 1"));
  EXPECT_TRUE(Contains(text, "ferserve_translator_cache_evictions_total 3"));
  // Hits do not touch the store: only the miss and the revalidation are timed.
  EXPECT_TRUE(Contains(text, "ferserve_translator_cache_load_duration_seconds_count 2"));
  EXPECT_TRUE(Contains(text, "ferserve_translator_cache_entries 4"));
  EXPECT_TRUE(Contains(text, "ferserve_translator_cache_bytes 4096"));
  EXPECT_TRUE(Contains(text, "ferserve_store_fallback_frames_total 1"));
  EXPECT_TRUE(Contains(text, "ferserve_adaptation_duration_seconds_count 1"));
  EXPECT_TRUE(
      Contains(text, "ferserve_frame_stage_duration_seconds_count{stage=\"personalization\"} 1"));
}

TEST(ServerMetricsTest, ExportsBatchSizesAndQueueTimes) {
  ServerMetrics metrics;
  metrics.ObserveBatch(3, {0.001, 0.002});
  metrics.ObserveBatch(32, {0.0005});
  const std::string text = metrics.Serialize();
  EXPECT_TRUE(Contains(text, "ferserve_batch_size_count 2")) << text;
  EXPECT_TRUE(Contains(text, "ferserve_batch_size_sum 35")) << text;
  EXPECT_TRUE(Contains(text, "ferserve_batch_size_bucket{le=\"4\"} 1")) << text;
  EXPECT_TRUE(Contains(text, "ferserve_batch_queue_duration_seconds_count 3")) << text;
}

TEST(ServerMetricsTest, ExportsTheQueueDepthsLastSet) {
  ServerMetrics metrics;
  std::string text = metrics.Serialize();
  EXPECT_TRUE(Contains(text, "ferserve_inference_queue_length 0\n")) << text;
  EXPECT_TRUE(Contains(text, "ferserve_batch_queue_faces 0\n")) << text;
  metrics.SetQueueDepths(3, 17);
  text = metrics.Serialize();
  EXPECT_TRUE(Contains(text, "ferserve_inference_queue_length 3\n")) << text;
  EXPECT_TRUE(Contains(text, "ferserve_batch_queue_faces 17\n")) << text;
}

}  // namespace
}  // namespace fer
