#ifndef FERSERVE_LIB_METRICS_SERVER_METRICS_H_
#define FERSERVE_LIB_METRICS_SERVER_METRICS_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace fer {

// Stages of serving one frame, each with a latency histogram.
enum class FrameStage { kQueue, kDecode, kDetection, kBackbone, kPersonalization, kTotal };

// Descriptive labels of the served model, exported as ferserve_model_info.
struct ModelInfoLabels {
  std::string backbone;
  std::string detector;
  std::string device;
  int feature_dim = 0;
  int labels = 0;
};

// ferserve's Prometheus metrics. All names follow Prometheus conventions
// (base units, _total counters, _seconds histograms) and pass
// `promtool check metrics`. Thread-safe.
class ServerMetrics {
 public:
  ServerMetrics();
  ~ServerMetrics();

  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

  // One finished RPC, by method name and gRPC status code name ("OK", ...).
  void RecordRequest(const std::string& rpc, const std::string& code);
  void ObserveStage(FrameStage stage, double seconds);
  void AddFrames(int frames, int faces);
  void AddRejectedFrame(const std::string& reason);
  void StreamStarted();
  void StreamEnded();
  void SetModelInfo(const ModelInfoLabels& info);
  void SetServing(bool serving);

  // One translator-cache lookup: `result` is "hit" (from memory),
  // "revalidated" (the store confirmed the cached version) or "miss" (read
  // from the store); store_seconds is the store's share (not observed for hits).
  void RecordTranslatorLookup(const std::string& result, double store_seconds, int evictions);
  void SetTranslatorCacheSize(size_t entries, size_t bytes);
  // A frame of a user's stream answered by the generic model because the
  // profile store failed (the fallback policy).
  void AddStoreFallbackFrame();
  // A StreamPredict frame whose faces the tracker carried over from the
  // previous frame instead of running the detector; a tracked frame whose
  // track was lost (the detector ran after all).
  void AddTrackedFrame();
  void AddLostTrack();
  // A StreamPredict frame answered without analysis because it arrived, or
  // was still waiting for the models, later than the stream's
  // max_frame_lag_ms allows.
  void AddSkippedFrame();
  void ObserveAdaptation(double seconds);
  // One batch the dynamic batcher executed: its face crops, and how long
  // each of its requests waited in the batch queue.
  void ObserveBatch(int faces, const std::vector<double>& queue_seconds);

  // The queues in front of the models now: executions waiting for an
  // inference slot (--inference_concurrency; frames for their detection and
  // backbone batches) and face crops waiting in the dynamic batcher (frames
  // past --batch_queue_limit are refused). Set at each scrape.
  void SetQueueDepths(int waiting_executions, int queued_faces);

  // Text exposition of everything registered (as /metrics serves it).
  std::string Serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Counter>* rejected_frames_;
  prometheus::Family<prometheus::Gauge>* model_info_;
  prometheus::Histogram* stages_[6];
  prometheus::Family<prometheus::Counter>* cache_lookups_;
  prometheus::Counter* cache_evictions_;
  prometheus::Histogram* cache_load_seconds_;
  prometheus::Gauge* cache_entries_;
  prometheus::Gauge* cache_bytes_;
  prometheus::Counter* store_fallback_frames_;
  prometheus::Counter* tracked_frames_;
  prometheus::Counter* lost_tracks_;
  prometheus::Counter* skipped_frames_;
  prometheus::Histogram* adaptation_seconds_;
  prometheus::Histogram* batch_size_;
  prometheus::Histogram* batch_queue_seconds_;
  prometheus::Counter* frames_;
  prometheus::Counter* faces_;
  prometheus::Gauge* inflight_streams_;
  prometheus::Gauge* waiting_executions_;
  prometheus::Gauge* batch_queue_faces_;
  prometheus::Gauge* serving_;
};

}  // namespace fer

#endif  // FERSERVE_LIB_METRICS_SERVER_METRICS_H_
