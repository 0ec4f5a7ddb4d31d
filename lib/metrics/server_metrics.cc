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

// The one series of a new family without labels.
prometheus::Counter* NewCounter(prometheus::Registry& registry, const char* name,
                                const char* help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Gauge* NewGauge(prometheus::Registry& registry, const char* name, const char* help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
}

prometheus::Histogram* NewHistogram(prometheus::Registry& registry, const char* name,
                                    const char* help,
                                    const prometheus::Histogram::BucketBoundaries& buckets) {
  return &prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, buckets);
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
  frames_ = NewCounter(*registry_, "ferserve_frames_total", "Frames processed.");
  faces_ = NewCounter(*registry_, "ferserve_faces_total", "Faces analyzed.");
  inflight_streams_ =
      NewGauge(*registry_, "ferserve_inflight_streams", "Streaming RPCs currently open.");
  serving_ = NewGauge(*registry_, "ferserve_serving",
                      "1 while the server accepts new work, 0 while draining.");
  cache_lookups_ = &prometheus::BuildCounter()
                        .Name("ferserve_translator_cache_lookups_total")
                        .Help("Translator cache lookups by result: hit, revalidated, miss.")
                        .Register(*registry_);
  for (const char* result : {"hit", "revalidated", "miss"})
    cache_lookups_->Add({{"result", result}});
  cache_evictions_ = NewCounter(*registry_, "ferserve_translator_cache_evictions_total",
                                "Translators evicted from the cache to respect its size bound.");
  cache_load_seconds_ = NewHistogram(*registry_, "ferserve_translator_cache_load_duration_seconds",
                                     "Profile store time of translator-cache misses and "
                                     "revalidations.",
                                     LatencyBuckets());
  cache_entries_ = NewGauge(*registry_, "ferserve_translator_cache_entries",
                            "Users held in the translator cache.");
  cache_bytes_ = NewGauge(*registry_, "ferserve_translator_cache_bytes",
                          "Bytes of translator weights held in the cache.");
  store_fallback_frames_ = NewCounter(*registry_, "ferserve_store_fallback_frames_total",
                                      "Frames of a user's stream answered by the generic model "
                                      "because the profile store failed.");
  tracked_frames_ = NewCounter(*registry_, "ferserve_tracked_frames_total",
                               "StreamPredict frames whose faces were tracked from the previous "
                               "frame instead of detected (detection_interval > 1).");
  lost_tracks_ = NewCounter(*registry_, "ferserve_lost_tracks_total",
                            "Tracked frames whose track was lost, so that the detector ran.");
  skipped_frames_ = NewCounter(*registry_, "ferserve_skipped_frames_total",
                               "StreamPredict frames answered without analysis because they "
                               "arrived, or were still waiting for the models, later than the "
                               "stream's max_frame_lag_ms allows.");
  adaptation_seconds_ =
      NewHistogram(*registry_, "ferserve_adaptation_duration_seconds",
                   "Wall time of PFT adaptations run by Adapt.", LatencyBuckets());
  batch_size_ = NewHistogram(*registry_, "ferserve_batch_size",
                             "Face crops per backbone batch executed by the dynamic batcher.",
                             BatchSizeBuckets());
  batch_queue_seconds_ = NewHistogram(*registry_, "ferserve_batch_queue_duration_seconds",
                                      "Time a frame's faces waited in the dynamic batcher's queue "
                                      "before their batch ran.",
                                      LatencyBuckets());
  waiting_executions_ = NewGauge(*registry_, "ferserve_inference_queue_length",
                                 "Model executions waiting for an inference slot "
                                 "(--inference_concurrency): frames waiting for their detection "
                                 "and backbone batches.");
  batch_queue_faces_ = NewGauge(*registry_, "ferserve_batch_queue_faces",
                                "Face crops waiting in the dynamic batcher's queue; frames that "
                                "would pass --batch_queue_limit are refused.");
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
