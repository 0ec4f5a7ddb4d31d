#include "lib/metrics/server_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <vector>

namespace fer {
namespace {

const char* StageName(FrameStage stage) {
  switch (stage) {
    case FrameStage::kQueue:
      return "queue";
    case FrameStage::kDecode:
      return "decode";
    case FrameStage::kDetection:
      return "detection";
    case FrameStage::kBackbone:
      return "backbone";
    case FrameStage::kPersonalization:
      return "personalization";
    case FrameStage::kTotal:
      return "total";
  }
  return "unknown";
}

// 100 us .. ~6.5 s, doubling.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double v = 1e-4; v < 7; v *= 2) b.push_back(v);
  return b;
}

// Faces per batch: 1, 2, 4 .. 128.
prometheus::Histogram::BucketBoundaries BatchSizeBuckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double v = 1; v <= 128; v *= 2) b.push_back(v);
  return b;
}

}  // namespace

ServerMetrics::ServerMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("ferserve_requests_total")
                   .Help("Finished RPCs by method and gRPC status code.")
                   .Register(*registry_);
  rejected_frames_ = &prometheus::BuildCounter()
                          .Name("ferserve_rejected_frames_total")
                          .Help("Frames answered with an error, by reason.")
                          .Register(*registry_);
  model_info_ = &prometheus::BuildGauge()
                     .Name("ferserve_model_info")
                     .Help("Served model; the value is always 1.")
                     .Register(*registry_);
  auto& stages = prometheus::BuildHistogram()
                     .Name("ferserve_frame_stage_duration_seconds")
                     .Help("Time spent per frame in each serving stage.")
                     .Register(*registry_);
  for (FrameStage s : {FrameStage::kQueue, FrameStage::kDecode, FrameStage::kDetection,
                       FrameStage::kBackbone, FrameStage::kPersonalization, FrameStage::kTotal}) {
    stages_[static_cast<int>(s)] = &stages.Add({{"stage", StageName(s)}}, LatencyBuckets());
  }
  frames_ = &prometheus::BuildCounter()
                 .Name("ferserve_frames_total")
                 .Help("Frames processed.")
                 .Register(*registry_)
                 .Add({});
  faces_ = &prometheus::BuildCounter()
                .Name("ferserve_faces_total")
                .Help("Faces analyzed.")
                .Register(*registry_)
                .Add({});
  inflight_streams_ = &prometheus::BuildGauge()
                           .Name("ferserve_inflight_streams")
                           .Help("Streaming RPCs currently open.")
                           .Register(*registry_)
                           .Add({});
  serving_ = &prometheus::BuildGauge()
                  .Name("ferserve_serving")
                  .Help("1 while the server accepts new work, 0 while draining.")
                  .Register(*registry_)
                  .Add({});
  cache_lookups_ = &prometheus::BuildCounter()
                        .Name("ferserve_translator_cache_lookups_total")
                        .Help("Translator cache lookups by result: hit, revalidated, miss.")
                        .Register(*registry_);
  for (const char* result : {"hit", "revalidated", "miss"})
    cache_lookups_->Add({{"result", result}});
  cache_evictions_ = &prometheus::BuildCounter()
                          .Name("ferserve_translator_cache_evictions_total")
                          .Help("Translators evicted from the cache to respect its size bound.")
                          .Register(*registry_)
                          .Add({});
  cache_load_seconds_ = &prometheus::BuildHistogram()
                             .Name("ferserve_translator_cache_load_duration_seconds")
                             .Help(
                                 "Profile store time of translator-cache misses and "
                                 "revalidations.")
                             .Register(*registry_)
                             .Add({}, LatencyBuckets());
  cache_entries_ = &prometheus::BuildGauge()
                        .Name("ferserve_translator_cache_entries")
                        .Help("Users held in the translator cache.")
                        .Register(*registry_)
                        .Add({});
  cache_bytes_ = &prometheus::BuildGauge()
                      .Name("ferserve_translator_cache_bytes")
                      .Help("Bytes of translator weights held in the cache.")
                      .Register(*registry_)
                      .Add({});
  store_fallback_frames_ = &prometheus::BuildCounter()
                                .Name("ferserve_store_fallback_frames_total")
                                .Help(
                                    "Frames of a user's stream answered by the generic model "
                                    "because the profile store failed.")
                                .Register(*registry_)
                                .Add({});
  tracked_frames_ = &prometheus::BuildCounter()
                         .Name("ferserve_tracked_frames_total")
                         .Help(
                             "StreamPredict frames whose faces were tracked from the previous "
                             "frame instead of detected (detection_interval > 1).")
                         .Register(*registry_)
                         .Add({});
  lost_tracks_ = &prometheus::BuildCounter()
                      .Name("ferserve_lost_tracks_total")
                      .Help("Tracked frames whose track was lost, so that the detector ran.")
                      .Register(*registry_)
                      .Add({});
  skipped_frames_ = &prometheus::BuildCounter()
                         .Name("ferserve_skipped_frames_total")
                         .Help(
                             "StreamPredict frames answered without analysis because they "
                             "arrived, or were still waiting for the models, later than the "
                             "stream's max_frame_lag_ms allows.")
                         .Register(*registry_)
                         .Add({});
  adaptation_seconds_ = &prometheus::BuildHistogram()
                             .Name("ferserve_adaptation_duration_seconds")
                             .Help("Wall time of PFT adaptations run by Adapt.")
                             .Register(*registry_)
                             .Add({}, LatencyBuckets());
  batch_size_ = &prometheus::BuildHistogram()
                     .Name("ferserve_batch_size")
                     .Help("Face crops per backbone batch executed by the dynamic batcher.")
                     .Register(*registry_)
                     .Add({}, BatchSizeBuckets());
  batch_queue_seconds_ = &prometheus::BuildHistogram()
                              .Name("ferserve_batch_queue_duration_seconds")
                              .Help(
                                  "Time a frame's faces waited in the dynamic batcher's queue "
                                  "before their batch ran.")
                              .Register(*registry_)
                              .Add({}, LatencyBuckets());
  waiting_executions_ = &prometheus::BuildGauge()
                             .Name("ferserve_inference_queue_length")
                             .Help(
                                 "Model executions waiting for an inference slot "
                                 "(--inference_concurrency): frames waiting for their detection "
                                 "and backbone batches.")
                             .Register(*registry_)
                             .Add({});
  batch_queue_faces_ = &prometheus::BuildGauge()
                            .Name("ferserve_batch_queue_faces")
                            .Help(
                                "Face crops waiting in the dynamic batcher's queue; frames that "
                                "would pass --batch_queue_limit are refused.")
                            .Register(*registry_)
                            .Add({});
}

ServerMetrics::~ServerMetrics() = default;

void ServerMetrics::RecordRequest(const std::string& rpc, const std::string& code) {
  requests_->Add({{"rpc", rpc}, {"code", code}}).Increment();
}

void ServerMetrics::ObserveStage(FrameStage stage, double seconds) {
  stages_[static_cast<int>(stage)]->Observe(seconds);
}

void ServerMetrics::AddFrames(int frames, int faces) {
  frames_->Increment(frames);
  faces_->Increment(faces);
}

void ServerMetrics::AddRejectedFrame(const std::string& reason) {
  rejected_frames_->Add({{"reason", reason}}).Increment();
}

void ServerMetrics::StreamStarted() { inflight_streams_->Increment(); }
void ServerMetrics::StreamEnded() { inflight_streams_->Decrement(); }

void ServerMetrics::SetModelInfo(const ModelInfoLabels& info) {
  model_info_
      ->Add({{"backbone", info.backbone},
             {"detector", info.detector},
             {"device", info.device},
             {"feature_dim", std::to_string(info.feature_dim)},
             {"labels", std::to_string(info.labels)}})
      .Set(1);
}

void ServerMetrics::SetServing(bool serving) { serving_->Set(serving ? 1 : 0); }

void ServerMetrics::RecordTranslatorLookup(const std::string& result, double store_seconds,
                                           int evictions) {
  cache_lookups_->Add({{"result", result}}).Increment();
  if (result != "hit") cache_load_seconds_->Observe(store_seconds);
  if (evictions > 0) cache_evictions_->Increment(evictions);
}

void ServerMetrics::SetTranslatorCacheSize(size_t entries, size_t bytes) {
  cache_entries_->Set(static_cast<double>(entries));
  cache_bytes_->Set(static_cast<double>(bytes));
}

void ServerMetrics::AddStoreFallbackFrame() { store_fallback_frames_->Increment(); }

void ServerMetrics::AddTrackedFrame() { tracked_frames_->Increment(); }

void ServerMetrics::AddLostTrack() { lost_tracks_->Increment(); }

void ServerMetrics::AddSkippedFrame() { skipped_frames_->Increment(); }

void ServerMetrics::ObserveAdaptation(double seconds) { adaptation_seconds_->Observe(seconds); }

void ServerMetrics::ObserveBatch(int faces, const std::vector<double>& queue_seconds) {
  batch_size_->Observe(faces);
  for (double seconds : queue_seconds) batch_queue_seconds_->Observe(seconds);
}

void ServerMetrics::SetQueueDepths(int waiting_executions, int queued_faces) {
  waiting_executions_->Set(waiting_executions);
  batch_queue_faces_->Set(queued_faces);
}

std::string ServerMetrics::Serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace fer
