// ExpressionService's StreamPredict: a stream's settings and state, each
// frame's answer (personalization, clip prediction) and the stream's loop
// (pacing, live streams' skipped frames, limits).
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/model/backbone_face_analyzer.h"
#include "lib/pft/translator.h"
#include "lib/serving/clip_smoother.h"
#include "lib/serving/clip_stream.h"
#include "lib/serving/model_call.h"
#include "lib/serving/stale_frame_filter.h"
#include "server/expression_service.h"
#include "server/grpc_edge.h"

namespace fer {
namespace {

using fer::v1::PredictRequest;
using fer::v1::PredictResponse;

constexpr int kMaxClipWindow = 300;
constexpr int kMaxFaces = 32;
constexpr uint32_t kMaxFrameLagMs = 60000;

// Appends one (label, probability) per class to `out->probabilities` and
// sets the top label; works for FacePrediction and ClipPrediction.
template <typename Message>
void FillProbabilities(const std::vector<std::string>& labels, const std::vector<float>& probs,
                       Message* out) {
  size_t best = 0;
  for (size_t i = 0; i < probs.size() && i < labels.size(); ++i) {
    fer::v1::ClassProbability* p = out->add_probabilities();
    p->set_label(labels[i]);
    p->set_probability(probs[i]);
    if (probs[i] > probs[best]) best = i;
  }
  if (!probs.empty() && best < labels.size()) {
    out->set_top_label(labels[best]);
    out->set_top_probability(probs[best]);
  }
}

void FillBox(const Box& box, fer::v1::Box* out) {
  out->set_x(box.x);
  out->set_y(box.y);
  out->set_width(box.width);
  out->set_height(box.height);
}

// The faces of a frame's answer, in the order given.
void FillFaces(const std::vector<FaceAnalysis>& faces, const std::vector<std::string>& labels,
               bool include_landmarks, bool include_features, PredictResponse* response) {
  for (const FaceAnalysis& face : faces) {
    fer::v1::FacePrediction* out = response->add_faces();
    FillBox(face.detection.box, out->mutable_box());
    out->set_score(face.detection.score);
    if (include_landmarks) {
      for (const Point& p : face.landmarks) {
        fer::v1::Point* q = out->add_landmarks();
        q->set_x(p.x);
        q->set_y(p.y);
      }
    }
    FillProbabilities(labels, face.probabilities, out);
    if (include_features) out->mutable_features()->Add(face.features.begin(), face.features.end());
  }
}

}  // namespace

struct ExpressionService::StreamSettings {
  std::string user_id;
  int clip_window;
  float min_face_score;
  int max_faces;
  bool include_landmarks;
  bool include_features;
  int detection_interval;
  absl::Duration max_frame_lag;  // zero: analyze every frame
};

// A StreamPredict stream's state, from its first message's config.
struct ExpressionService::Stream {
  StreamSettings settings;
  std::unique_ptr<FaceTracker> tracker;
  // Frame models: the mean of the largest face's recent probabilities.
  std::unique_ptr<ClipSmoother> clip;
  // Clip models: the ring of the largest face's crops the model runs on.
  std::unique_ptr<ClipStream> clip_stream;
  // Live streams (max_frame_lag_ms): which frames arrive too late to analyze.
  std::unique_ptr<StaleFrameFilter> stale_frames;
};

// What a frame is personalized with: no translator for a stream without a
// user, nor, with a note saying why, for a user the generic model serves.
struct ExpressionService::FrameTranslator {
  std::shared_ptr<const pft::Translator> translator;
  uint64_t profile_version = 0;
  std::string note;
};

absl::StatusOr<ExpressionService::StreamSettings> ExpressionService::SettingsFrom(
    const fer::v1::StreamConfig& config) const {
  StreamSettings s;
  s.user_id = config.user_id();
  if (!s.user_id.empty()) {
    if (absl::Status valid = ValidateProfileId("user id", s.user_id); !valid.ok()) return valid;
  }
  if (config.clip_window() > kMaxClipWindow) {
    return absl::InvalidArgumentError(
        absl::StrCat("clip_window ", config.clip_window(), " exceeds ", kMaxClipWindow));
  }
  s.clip_window = config.clip_window() == 0 ? options_.default_clip_window
                                            : static_cast<int>(config.clip_window());
  if (!(config.min_face_score() >= 0.f && config.min_face_score() < 1.f)) {
    return absl::InvalidArgumentError(absl::StrCat("min_face_score ", config.min_face_score(),
                                                   " must be in (0, 1), or 0 for the default"));
  }
  s.min_face_score =
      config.min_face_score() == 0.f ? options_.default_min_face_score : config.min_face_score();
  if (config.max_faces() > kMaxFaces) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_faces ", config.max_faces(), " exceeds ", kMaxFaces));
  }
  s.max_faces = config.max_faces() == 0 ? 1 : static_cast<int>(config.max_faces());
  s.include_landmarks = config.include_landmarks();
  s.include_features = config.include_features();
  if (config.detection_interval() > kMaxDetectionInterval) {
    return absl::InvalidArgumentError(absl::StrCat(
        "detection_interval ", config.detection_interval(), " exceeds ", kMaxDetectionInterval));
  }
  s.detection_interval = config.detection_interval() == 0
                             ? options_.default_detection_interval
                             : static_cast<int>(config.detection_interval());
  if (config.max_frame_lag_ms() > kMaxFrameLagMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_frame_lag_ms ", config.max_frame_lag_ms(), " exceeds ", kMaxFrameLagMs));
  }
  s.max_frame_lag = absl::Milliseconds(config.max_frame_lag_ms());
  return s;
}

grpc::Status ExpressionService::StreamPredict(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<PredictResponse, PredictRequest>* stream) {
  return Serve("StreamPredict", *context, [&](Call& call) {
    absl::StatusOr<std::unique_ptr<StreamAdmission::Ticket>> ticket = admission_->Admit();
    if (!ticket.ok()) return ToGrpcStatus(ticket.status());
    metrics_->StreamStarted();
    call.frames = 0;
    grpc::Status status = StreamPredictImpl(context, call.tenant, stream, &call.frames);
    metrics_->StreamEnded();
    return status;
  });
}

absl::StatusOr<ExpressionService::Stream> ExpressionService::OpenStream(
    const fer::v1::StreamConfig& config) const {
  absl::StatusOr<StreamSettings> settings = SettingsFrom(config);
  if (!settings.ok()) return settings.status();
  Stream stream;
  stream.settings = *std::move(settings);
  stream.tracker = std::make_unique<FaceTracker>(stream.settings.detection_interval);
  if (analyzer_->clip_frames() > 1) {
    stream.clip_stream =
        std::make_unique<ClipStream>(analyzer_->clip_frames(), analyzer_->clip_stride());
  } else {
    stream.clip =
        std::make_unique<ClipSmoother>(stream.settings.clip_window, analyzer_->labels().size());
  }
  if (stream.settings.max_frame_lag > absl::ZeroDuration()) {
    stream.stale_frames = std::make_unique<StaleFrameFilter>(stream.settings.max_frame_lag);
  }
  return stream;
}

absl::StatusOr<ExpressionService::FrameTranslator> ExpressionService::TranslatorForFrame(
    const std::string& tenant, const std::string& user_id) {
  FrameTranslator out;
  if (user_id.empty()) return out;
  absl::StatusOr<UserTranslator> user = LookupTranslator(tenant, user_id);
  if (!user.ok()) {
    if (options_.store_failure_policy == StoreFailurePolicy::kFailClosed) {
      return absl::Status(user.status().code(),
                          absl::StrCat("cannot read the profile of user \"", user_id, "\" (",
                                       store_->Describe(), "): ", user.status().message()));
    }
    metrics_->AddStoreFallbackFrame();
    out.note =
        absl::StrCat("profile unavailable (", user.status().message(), "); generic model used");
  } else if (user->translator == nullptr) {
    out.note = "user has no adapted profile; generic model used";
  } else {
    out.translator = user->translator;
    out.profile_version = user->version;
  }
  return out;
}

absl::Status ExpressionService::UpdateClip(grpc::ServerContext* context, uint64_t index,
                                           const RgbImage& image,
                                           const std::vector<FaceAnalysis>& faces,
                                           const pft::Translator* translator, Stream* stream,
                                           double* backbone_seconds, PredictResponse* response) {
  const std::vector<std::string>& labels = analyzer_->labels();
  if (stream->clip_stream != nullptr) {
    ClipStream& ring = *stream->clip_stream;
    if (!ring.Add(faces.empty() ? RgbImage() : CropFace(image, faces.front().aligned_box), index)) {
      return absl::OkStatus();
    }
    absl::StatusOr<std::vector<float>> probabilities =
        PredictClip(context, ring.Clip(), translator, backbone_seconds);
    if (!probabilities.ok()) return probabilities.status();
    fer::v1::ClipPrediction* c = response->mutable_clip();
    c->set_frames(static_cast<uint32_t>(ring.size()));
    c->set_from_clip_model(true);
    c->set_first_frame_index(ring.first_frame_index());
    FillProbabilities(labels, *probabilities, c);
    return absl::OkStatus();
  }
  ClipSmoother& clip = *stream->clip;
  clip.Add(faces.empty() ? std::vector<float>() : faces.front().probabilities);
  if (clip.frames_with_face() > 0) {
    fer::v1::ClipPrediction* c = response->mutable_clip();
    c->set_frames(static_cast<uint32_t>(clip.frames_with_face()));
    FillProbabilities(labels, clip.Mean(), c);
  }
  return absl::OkStatus();
}

absl::Status ExpressionService::AnswerFrame(grpc::ServerContext* context, const std::string& tenant,
                                            uint64_t index, const fer::v1::Frame& frame,
                                            Stream* stream, FrameRun* run,
                                            PredictResponse* response) {
  const absl::Time received = absl::Now();
  const StreamSettings& settings = stream->settings;
  // The user's translator, re-checked every frame (a cache hit unless the
  // staleness bound passed), so a long stream picks up a new version.
  absl::StatusOr<FrameTranslator> personal = TranslatorForFrame(tenant, settings.user_id);
  if (!personal.ok()) return personal.status();
  const pft::Translator* translator = personal->translator.get();

  AnalyzeTimings timings;
  AnalyzeOptions analyze;
  analyze.detect.min_score = settings.min_face_score;
  analyze.with_features = settings.include_features || translator != nullptr;
  analyze.timings = &timings;
  // Largest faces first; the clip follows the largest.
  absl::StatusOr<std::vector<FaceAnalysis>> faces =
      AnalyzeFrame(context, frame, analyze, settings.max_faces, run);
  if (run->undecodable) {
    metrics_->AddRejectedFrame("invalid_frame");
    return absl::InvalidArgumentError(faces.status().message());
  }
  if (!faces.ok()) {
    CountRejectedFrame(faces.status());
    return faces.status();
  }
  if (run->stale) return absl::OkStatus();
  metrics_->ObserveStage(FrameStage::kQueue, run->queue_seconds);
  metrics_->ObserveStage(FrameStage::kDecode, run->decode_seconds);
  if (run->detected) {
    metrics_->ObserveStage(FrameStage::kDetection, timings.detection);
  } else {
    metrics_->AddTrackedFrame();
  }
  // Landmarks, backbone and, for clip models, the clip's run (below).
  double backbone_seconds = timings.landmarks + timings.backbone;
  if (translator != nullptr && !faces->empty()) {
    const absl::Time personalize_start = absl::Now();
    if (absl::Status personalized = Personalize(*translator, &*faces); !personalized.ok()) {
      CountRejectedFrame(personalized);
      return personalized;
    }
    metrics_->ObserveStage(FrameStage::kPersonalization,
                           absl::ToDoubleSeconds(absl::Now() - personalize_start));
  }

  response->set_frame_index(index);
  response->set_timestamp_us(frame.timestamp_us());
  response->set_frame_width(run->image.width);
  response->set_frame_height(run->image.height);
  response->set_face_found(!faces->empty());
  response->set_detected(run->detected);
  response->set_personalized(translator != nullptr);
  response->set_profile_version(personal->profile_version);
  if (!personal->note.empty()) response->set_personalization_note(personal->note);
  FillFaces(*faces, analyzer_->labels(), settings.include_landmarks, settings.include_features,
            response);
  if (absl::Status clip = UpdateClip(context, index, run->image, *faces, translator, stream,
                                     &backbone_seconds, response);
      !clip.ok()) {
    CountRejectedFrame(clip);
    return absl::Status(clip.code(), absl::StrCat("clip: ", clip.message()));
  }
  metrics_->ObserveStage(FrameStage::kBackbone, backbone_seconds);
  metrics_->AddFrames(1, static_cast<int>(faces->size()));
  const double total = absl::ToDoubleSeconds(absl::Now() - received);
  response->set_server_latency_us(static_cast<int64_t>(total * 1e6));
  metrics_->ObserveStage(FrameStage::kTotal, total);
  return absl::OkStatus();
}

grpc::Status ExpressionService::StreamPredictImpl(
    grpc::ServerContext* context, const std::string& tenant,
    grpc::ServerReaderWriter<PredictResponse, PredictRequest>* stream, int64_t* frames) {
  PredictRequest request;
  Stream state;  // from the first message's config
  const std::unique_ptr<StreamWatchdog::Watch> watch = WatchIdleness(context);
  const absl::Time opened = absl::Now();
  const absl::Duration frame_interval = options_.max_stream_fps > 0
                                            ? absl::Seconds(1.0 / options_.max_stream_fps)
                                            : absl::ZeroDuration();
  absl::Time next_frame = opened;
  for (uint64_t index = 0; stream->Read(&request); ++index) {
    *frames = static_cast<int64_t>(index) + 1;
    if (watch != nullptr) watch->Touch();
    if (options_.max_stream_duration > absl::ZeroDuration() &&
        absl::Now() - opened > options_.max_stream_duration) {
      return grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          absl::StrCat("stream open longer than --max_stream_duration (",
                       absl::FormatDuration(options_.max_stream_duration), "); open a new one"));
    }
    if (index == 0) {
      absl::StatusOr<Stream> opened_stream = OpenStream(request.config());
      if (!opened_stream.ok()) return ToGrpcStatus(opened_stream.status());
      state = *std::move(opened_stream);
    }
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    const int64_t timestamp_us = request.frame().timestamp_us();
    FrameRun run;
    run.tracker = state.tracker.get();
    // A live stream's frame too late to analyze is answered at once, in
    // order, as skipped: on arrival (not paced either: skipping costs
    // nothing), or once it waited for the models past its maximum lag.
    bool skip = false;
    if (state.stale_frames != nullptr) {
      absl::StatusOr<bool> fresh = state.stale_frames->Admit(timestamp_us, absl::Now());
      if (!fresh.ok()) {
        metrics_->AddRejectedFrame("invalid_frame");
        return FrameError(index, fresh.status());
      }
      skip = !*fresh;
      if (!skip) run.stale_at = state.stale_frames->StaleAt(timestamp_us);
    }
    PredictResponse response;
    if (!skip) {
      // Pacing: a stream faster than --max_stream_fps waits (backpressure
      // through flow control) instead of losing frames.
      if (frame_interval > absl::ZeroDuration()) {
        const absl::Time now = absl::Now();
        if (next_frame > now) absl::SleepFor(next_frame - now);
        next_frame = std::max(now, next_frame) + frame_interval;
      }
      if (absl::Status answered =
              AnswerFrame(context, tenant, index, request.frame(), &state, &run, &response);
          !answered.ok()) {
        return FrameError(index, answered);
      }
      skip = run.stale;
    }
    if (skip) {
      response.set_frame_index(index);
      response.set_timestamp_us(timestamp_us);
      response.set_skipped(true);
      metrics_->AddSkippedFrame();
    }
    if (!stream->Write(response)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    if (watch != nullptr) watch->Touch();  // idle time is time spent waiting for the client
  }
  return EndOfReadsStatus(*context, watch.get());
}

absl::StatusOr<std::vector<float>> ExpressionService::PredictClip(grpc::ServerContext* context,
                                                                  const std::vector<RgbImage>& clip,
                                                                  const pft::Translator* translator,
                                                                  double* backbone_seconds) {
  absl::StatusOr<BackboneOutput> out;
  {
    std::optional<InferenceGate::Slot> slot = gate_->Take(CallDeadline(*context));
    if (!slot.has_value()) return absl::DeadlineExceededError("deadline passed while queued");
    const absl::Time start = absl::Now();
    out = CallModel("the clip backbone", [&] { return analyzer_->RunClips({clip}); });
    *backbone_seconds += absl::ToDoubleSeconds(absl::Now() - start);
  }
  if (!out.ok()) return out.status();
  if (translator == nullptr) return out->probabilities;
  return TranslateAndClassify(*translator, out->features, 1);
}

}  // namespace fer
