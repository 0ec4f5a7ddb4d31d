#ifndef FERSERVE_SERVER_EXPRESSION_SERVICE_H_
#define FERSERVE_SERVER_EXPRESSION_SERVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fer/v1/expression_service.grpc.pb.h"
#include "lib/metrics/server_metrics.h"
#include "lib/model/face_analyzer.h"
#include "lib/pft/adaptation.h"
#include "lib/pft/linear_head.h"
#include "lib/pft/model_bundle.h"
#include "lib/serving/call_log.h"
#include "lib/serving/dynamic_batcher.h"
#include "lib/serving/enrollment_checks.h"
#include "lib/serving/face_tracker.h"
#include "lib/serving/inference_gate.h"
#include "lib/serving/stream_admission.h"
#include "lib/serving/stream_watchdog.h"
#include "lib/serving/tenant_tokens_file.h"
#include "lib/serving/translator_cache.h"
#include "lib/store/profile_store.h"
#include "lib/vision/frame_decoder.h"

namespace fer {

// What StreamPredict does for a user whose translator cannot be read (the
// profile store is down, or the record is unusable).
enum class StoreFailurePolicy {
  kGenericFallback,  // answer with the generic model, flagged in each answer
  kFailClosed,       // end the stream with the store's error (UNAVAILABLE ...)
};

// Largest StreamConfig.detection_interval (and --detection_interval).
inline constexpr int kMaxDetectionInterval = 30;

struct ExpressionServiceOptions {
  FrameLimits frame_limits;
  int default_clip_window = 16;
  float default_min_face_score = 0.5f;
  // StreamPredict runs the detector on every n-th frame and tracks faces in
  // between (FaceTracker); a stream's config may ask for another interval.
  int default_detection_interval = 1;
  std::string server_version;
  EnrollmentCheckOptions enrollment;
  StoreFailurePolicy store_failure_policy = StoreFailurePolicy::kGenericFallback;
  // Adapt: enrolled features needed, the server's adaptation settings, and
  // the largest max_steps a request may ask for.
  int adapt_min_features = 16;
  pft::AdaptOptions adapt;
  int adapt_max_steps_limit = 500;
  // Bearer tokens per tenant, as the file holds them now (outlives the
  // service); null: no authentication, every call belongs to the tenant
  // "default".
  const TenantTokensFile* tokens = nullptr;
  // Stream limits: streams idle beyond the watchdog's timeout are cancelled
  // (null: no idle limit); a StreamPredict stream ends UNAVAILABLE once open
  // longer than max_stream_duration (zero: unlimited); frames beyond
  // max_stream_fps per stream are delayed, not dropped (zero: unlimited).
  StreamWatchdog* watchdog = nullptr;
  absl::Duration max_stream_duration = absl::ZeroDuration();
  double max_stream_fps = 0;
  // Where finished calls are logged (null: nowhere; outlives the service).
  CallLog* call_log = nullptr;
};

// PFT personalization: the pre-trained bundle Adapt starts from, the frozen
// head it trains against, and the replica's cache of users' translators.
// Without a bundle Adapt answers FAILED_PRECONDITION and StreamPredict still
// serves users adapted earlier.
struct Personalization {
  const pft::ModelBundle* bundle = nullptr;  // may be null
  pft::LinearHead head;
  TranslatorCache* cache = nullptr;  // required
};

// fer.v1.ExpressionService on the synchronous gRPC API: each streaming call
// runs on a server thread. A frame's per-frame model steps (detection,
// landmarks) pass through an InferenceGate; its faces then go through the
// DynamicBatcher, which runs the backbone on the faces of many streams at
// once. StreamPredict is defined in stream_predict.cc, the profile RPCs in
// profile_rpcs.cc, the parts they share in expression_service.cc.
class ExpressionService final : public fer::v1::ExpressionService::Service {
 public:
  // None of the pointers is owned; all must outlive the service. `store`
  // holds the users' profiles; `batcher` runs analyzer's backbone.
  ExpressionService(FaceAnalyzer* analyzer, ServerMetrics* metrics, StreamAdmission* admission,
                    InferenceGate* gate, DynamicBatcher* batcher, ProfileStore* store,
                    Personalization personalization, ExpressionServiceOptions options);

  grpc::Status StreamPredict(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<fer::v1::PredictResponse, fer::v1::PredictRequest>* stream) override;
  grpc::Status GetModelInfo(grpc::ServerContext* context, const fer::v1::GetModelInfoRequest*,
                            fer::v1::ModelInfo* info) override;
  grpc::Status EnrollNeutral(grpc::ServerContext* context,
                             grpc::ServerReader<fer::v1::EnrollRequest>* reader,
                             fer::v1::EnrollResponse* response) override;
  grpc::Status Adapt(grpc::ServerContext* context, const fer::v1::AdaptRequest* request,
                     grpc::ServerWriter<fer::v1::AdaptProgress>* writer) override;
  grpc::Status GetProfile(grpc::ServerContext* context, const fer::v1::GetProfileRequest* request,
                          fer::v1::Profile* profile) override;
  grpc::Status DeleteProfile(grpc::ServerContext* context,
                             const fer::v1::DeleteProfileRequest* request,
                             fer::v1::DeleteProfileResponse* response) override;

 private:
  struct StreamSettings;
  struct Stream;
  struct FrameTranslator;

  // One call as Serve records it in the metrics and the call log.
  struct Call {
    Call(const char* rpc, const grpc::ServerContext& context)
        : rpc(rpc), context(context), peer(context.peer()) {}
    const char* rpc;
    const grpc::ServerContext& context;
    // Taken at the start: gRPC forgets it once the call is cancelled.
    const std::string peer;
    const absl::Time started = absl::Now();
    std::string tenant;   // once authenticated
    int64_t frames = -1;  // streams: the frames read
  };
  // Sets call->tenant from the caller's bearer token (Unauthenticated
  // without a valid one), or to "default" when authentication is off.
  absl::Status Authenticate(Call* call) const;
  // Every RPC: authenticates the caller, runs `body` on the authenticated
  // call (which may set its frames), records how the call ended (metrics,
  // call log) and returns that status.
  grpc::Status Serve(const char* rpc, const grpc::ServerContext& context,
                     const std::function<grpc::Status(Call&)>& body);
  grpc::Status StreamPredictImpl(
      grpc::ServerContext* context, const std::string& tenant,
      grpc::ServerReaderWriter<fer::v1::PredictResponse, fer::v1::PredictRequest>* stream,
      int64_t* frames);
  absl::StatusOr<StreamSettings> SettingsFrom(const fer::v1::StreamConfig& config) const;
  // A stream's settings from its config (InvalidArgument for values out of
  // range), with its tracker, clip state and stale-frame filter.
  absl::StatusOr<Stream> OpenStream(const fer::v1::StreamConfig& config) const;
  // The user's translator for the next frame; an error only when the
  // profile cannot be read and the store failure policy is fail-closed.
  absl::StatusOr<FrameTranslator> TranslatorForFrame(const std::string& tenant,
                                                     const std::string& user_id);
  // Adds the frame's largest face to the stream's clip and sets the answer's
  // clip prediction when there is one: a clip model runs (personalized by
  // `translator` when not null, its time added to *backbone_seconds) once
  // its ring is due; a frame model's answer is the recent frames' mean.
  absl::Status UpdateClip(grpc::ServerContext* context, uint64_t index, const RgbImage& image,
                          const std::vector<FaceAnalysis>& faces, const pft::Translator* translator,
                          Stream* stream, double* backbone_seconds,
                          fer::v1::PredictResponse* response);
  absl::StatusOr<RgbImage> DecodeFrame(const fer::v1::Frame& frame) const;
  grpc::Status EnrollNeutralImpl(grpc::ServerContext* context, const std::string& tenant,
                                 grpc::ServerReader<fer::v1::EnrollRequest>* reader,
                                 fer::v1::EnrollResponse* response, int64_t* frames);
  // One enrollment frame's verdict (an undecodable frame is one too); an
  // accepted frame's backbone features go to *features. An error ends the
  // call.
  absl::StatusOr<fer::v1::FrameVerdict> JudgeEnrollmentFrame(grpc::ServerContext* context,
                                                             uint64_t index,
                                                             const fer::v1::Frame& frame,
                                                             std::vector<float>* features);
  // One frame's run through AnalyzeFrame: what the caller brings, and what
  // AnalyzeFrame tells about it.
  struct FrameRun {
    // StreamPredict: the stream's tracker; the detector runs only when it
    // says so, or when a track is lost.
    FaceTracker* tracker = nullptr;
    // Live streams: when the frame's lag passes max_frame_lag_ms. A frame
    // still waiting for the gate then is not analyzed: `stale`, no faces.
    absl::Time stale_at = absl::InfiniteFuture();
    RgbImage image;             // the decoded frame
    double queue_seconds = 0;   // the wait for the gate
    double decode_seconds = 0;  // decoding, once admitted
    bool undecodable = false;   // the bytes did not decode: AnalyzeFrame's error
    bool detected = true;       // whether the detector ran
    bool stale = false;
  };
  // Runs the models on one frame. Once the gate admits it, the frame is
  // decoded (so that frames waiting for the models hold only their encoded
  // bytes, and one that waits past its maximum lag is never decoded) and
  // goes through detection and landmarks; then its faces go through the
  // backbone with the batcher. Both waits are bounded by the call's deadline
  // (DeadlineExceeded). With max_faces > 0, only the max_faces largest faces
  // are kept, largest first; otherwise all, best score first. A full batch
  // queue is ResourceExhausted.
  absl::StatusOr<std::vector<FaceAnalysis>> AnalyzeFrame(grpc::ServerContext* context,
                                                         const fer::v1::Frame& encoded,
                                                         const AnalyzeOptions& analyze,
                                                         int max_faces, FrameRun* run);
  // A StreamPredict frame's answer, once admitted and paced: the user's
  // translator, the models (AnalyzeFrame), personalization and the clip.
  // A frame that waits for the models past its maximum lag is left
  // unanswered, `run->stale`. An error ends the stream.
  absl::Status AnswerFrame(grpc::ServerContext* context, const std::string& tenant, uint64_t index,
                           const fer::v1::Frame& frame, Stream* stream, FrameRun* run,
                           fer::v1::PredictResponse* response);
  // The detector (or the given boxes) and landmarks, under the inference
  // gate's slot the caller holds: the max_faces largest faces, largest first.
  absl::StatusOr<std::vector<LocatedFace>> LocateFaces(const RgbImage& image,
                                                       const AnalyzeOptions& analyze,
                                                       int max_faces);
  // A watch that cancels the call when the client stays idle too long (null
  // without a watchdog).
  std::unique_ptr<StreamWatchdog::Watch> WatchIdleness(grpc::ServerContext* context);
  // The status of a streaming call once its reads ended: DEADLINE_EXCEEDED
  // when `watch` cancelled it for idleness, else CutShortStatus: OK when the
  // client half-closed.
  static grpc::Status EndOfReadsStatus(const grpc::ServerContext& context,
                                       const StreamWatchdog::Watch* watch);
  // The user's translator through the cache, recording cache metrics.
  absl::StatusOr<UserTranslator> LookupTranslator(const std::string& tenant,
                                                  const std::string& user_id);
  // A clip model's probabilities on one clip of face crops (through the
  // gate), personalized by `translator` when not null; the model's time is
  // added to *backbone_seconds.
  absl::StatusOr<std::vector<float>> PredictClip(grpc::ServerContext* context,
                                                 const std::vector<RgbImage>& clip,
                                                 const pft::Translator* translator,
                                                 double* backbone_seconds);
  // Counts a frame that failed with `status` in ferserve_rejected_frames_total
  // when it failed in the model (model_error) or for a full queue.
  void CountRejectedFrame(const absl::Status& status);
  // Replaces each face's probabilities by the head's on translated features.
  absl::Status Personalize(const pft::Translator& translator, std::vector<FaceAnalysis>* faces);
  // The expression head's probabilities on `batch` rows of backbone
  // features translated by `translator`.
  absl::StatusOr<std::vector<float>> TranslateAndClassify(const pft::Translator& translator,
                                                          const std::vector<float>& features,
                                                          int batch);
  grpc::Status AdaptImpl(grpc::ServerContext* context, const std::string& tenant,
                         const fer::v1::AdaptRequest* request,
                         grpc::ServerWriter<fer::v1::AdaptProgress>* writer);
  // Stores an adaptation's translator over the profile it started from (a
  // compare-and-set on its version), caches it, and writes Adapt's last
  // message. When another replica committed first, its adaptation of the
  // same enrollment is this call's answer too; any other change since is
  // Aborted.
  grpc::Status CommitAdaptation(const Profile& profile, const pft::AdaptResult& result,
                                grpc::ServerWriter<fer::v1::AdaptProgress>* writer);

  FaceAnalyzer* analyzer_;
  ServerMetrics* metrics_;
  StreamAdmission* admission_;
  InferenceGate* gate_;
  DynamicBatcher* batcher_;
  ProfileStore* store_;
  Personalization personalization_;
  ExpressionServiceOptions options_;
  const int neutral_index_;  // Of the neutral label in analyzer_->labels(); -1: none.
};

}  // namespace fer

#endif  // FERSERVE_SERVER_EXPRESSION_SERVICE_H_
