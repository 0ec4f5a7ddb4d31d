#include "server/expression_service.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/model/backbone_face_analyzer.h"
#include "lib/pft/translator.h"
#include "lib/pft/translator_codec.h"
#include "lib/serving/clip_smoother.h"
#include "lib/serving/clip_stream.h"
#include "lib/serving/model_call.h"
#include "lib/serving/stale_frame_filter.h"
#include "server/grpc_status.h"

namespace fer {
namespace {

using fer::v1::PredictRequest;
using fer::v1::PredictResponse;

// Without authentication every call belongs to this tenant.
constexpr char kDefaultTenant[] = "default";

constexpr int kMaxClipWindow = 300;
constexpr int kMaxFaces = 32;
constexpr uint32_t kMaxFrameLagMs = 60000;

double SecondsSince(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

absl::Time Deadline(const grpc::ServerContext& context) {
  return context.deadline() == std::chrono::system_clock::time_point::max()
             ? absl::InfiniteFuture()
             : absl::FromChrono(context.deadline());
}

const char* LookupResultName(TranslatorLookup::Source source) {
  switch (source) {
    case TranslatorLookup::Source::kCache:
      return "hit";
    case TranslatorLookup::Source::kRevalidated:
      return "revalidated";
    case TranslatorLookup::Source::kLoaded:
      return "miss";
  }
  return "miss";
}

PixelFormat FromProto(fer::v1::RawImage::PixelFormat format) {
  switch (format) {
    case fer::v1::RawImage::RGB8:
      return PixelFormat::kRgb8;
    case fer::v1::RawImage::BGR8:
      return PixelFormat::kBgr8;
    case fer::v1::RawImage::RGBA8:
      return PixelFormat::kRgba8;
    case fer::v1::RawImage::GRAY8:
      return PixelFormat::kGray8;
    default:
      return PixelFormat::kUnspecified;
  }
}

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

// A frame's error as the stream's end, naming the frame: "frame 12: ...".
grpc::Status FrameError(uint64_t index, const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      absl::StrCat("frame ", index, ": ", status.message()));
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

ExpressionService::ExpressionService(FaceAnalyzer* analyzer, ServerMetrics* metrics,
                                     StreamAdmission* admission, InferenceGate* gate,
                                     DynamicBatcher* batcher, ProfileStore* store,
                                     Personalization personalization,
                                     ExpressionServiceOptions options)
    : analyzer_(analyzer),
      metrics_(metrics),
      admission_(admission),
      gate_(gate),
      batcher_(batcher),
      store_(store),
      personalization_(std::move(personalization)),
      options_(std::move(options)) {
  const std::vector<std::string>& labels = analyzer_->labels();
  const auto neutral = std::find(labels.begin(), labels.end(), "neutral");
  if (neutral != labels.end()) neutral_index_ = static_cast<int>(neutral - labels.begin());
}

absl::StatusOr<std::vector<LocatedFace>> ExpressionService::LocateFaces(
    const RgbImage& image, const AnalyzeOptions& analyze, int max_faces) {
  absl::StatusOr<std::vector<LocatedFace>> located =
      CallModel("face detection", [&] { return analyzer_->Locate(image, analyze); });
  if (located.ok() && max_faces > 0) {
    std::stable_sort(located->begin(), located->end(),
                     [](const LocatedFace& a, const LocatedFace& b) {
                       return a.analysis.detection.box.area() > b.analysis.detection.box.area();
                     });
    if (static_cast<int>(located->size()) > max_faces) located->resize(max_faces);
  }
  return located;
}

absl::StatusOr<std::vector<FaceAnalysis>> ExpressionService::AnalyzeFrame(
    grpc::ServerContext* context, const fer::v1::Frame& encoded, const AnalyzeOptions& analyze,
    int max_faces, FrameRun* run) {
  const absl::Time deadline = Deadline(*context);
  const absl::Time queued = absl::Now();
  std::optional<InferenceGate::Slot> slot = gate_->Take(std::min(deadline, run->stale_at));
  if (!slot.has_value()) {
    if (run->stale_at < deadline) {
      run->stale = true;
      return std::vector<FaceAnalysis>();
    }
    return absl::DeadlineExceededError("deadline passed while queued");
  }
  const absl::Time admitted = absl::Now();
  run->queue_seconds = absl::ToDoubleSeconds(admitted - queued);
  absl::StatusOr<RgbImage> image = DecodeFrame(encoded);
  run->decode_seconds = SecondsSince(admitted);
  if (!image.ok()) {
    run->undecodable = true;
    return image.status();
  }
  run->image = *std::move(image);
  FaceTracker* tracker = run->tracker;
  AnalyzeOptions options = analyze;
  std::vector<FaceDetection> tracked_boxes;
  bool detect = tracker == nullptr || tracker->MustDetect(&tracked_boxes);
  if (!detect) options.detections = &tracked_boxes;
  absl::StatusOr<std::vector<LocatedFace>> located = LocateFaces(run->image, options, max_faces);
  auto analyses = [&located] {
    std::vector<FaceAnalysis> faces;
    for (const LocatedFace& face : *located) faces.push_back(face.analysis);
    return faces;
  };
  if (located.ok() && !detect && !tracker->Tracked(analyses())) {
    // A lost track: this frame runs the detector after all.
    metrics_->AddLostTrack();
    const double tracked_landmarks = analyze.timings != nullptr ? analyze.timings->landmarks : 0;
    options.detections = nullptr;
    detect = true;
    located = LocateFaces(run->image, options, max_faces);
    if (analyze.timings != nullptr) analyze.timings->landmarks += tracked_landmarks;
  }
  if (located.ok() && detect && tracker != nullptr) tracker->Detected(analyses());
  slot.reset();
  if (!located.ok()) return located.status();
  run->detected = detect;

  // The backbone, batched with other frames' faces.
  std::vector<FaceAnalysis> faces;
  BatchRequest request;
  request.deadline = deadline;
  request.cancelled = [context] { return context->IsCancelled(); };
  for (LocatedFace& face : *located) {
    faces.push_back(std::move(face.analysis));
    request.crops.push_back(std::move(face.crop));
  }
  const absl::Time backbone_start = absl::Now();
  absl::StatusOr<BackboneOutput> out = batcher_->Run(std::move(request));
  if (analyze.timings != nullptr) analyze.timings->backbone = SecondsSince(backbone_start);
  if (!out.ok()) return out.status();
  AttachBackboneOutput(*out, analyzer_->labels().size(),
                       static_cast<size_t>(analyzer_->feature_dim()), analyze.with_features,
                       &faces);
  return faces;
}

void ExpressionService::CountRejectedFrame(const absl::Status& status) {
  if (IsModelException(status)) {
    metrics_->AddRejectedFrame("model_error");
  } else if (absl::IsResourceExhausted(status)) {
    metrics_->AddRejectedFrame("queue_full");
  }
}

grpc::Status ExpressionService::Finish(const char* rpc, grpc::Status status) {
  metrics_->RecordRequest(rpc, GrpcCodeName(status.error_code()));
  return status;
}

absl::StatusOr<std::string> ExpressionService::TenantOf(const grpc::ServerContext& context) const {
  if (options_.tokens == nullptr) return std::string(kDefaultTenant);
  const std::shared_ptr<const TenantTokens> tokens = options_.tokens->current();
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) return tokens->TenantOfAuthorization("");
  return tokens->TenantOfAuthorization(absl::string_view(it->second.data(), it->second.size()));
}

absl::StatusOr<UserTranslator> ExpressionService::LookupTranslator(const std::string& tenant,
                                                                   const std::string& user_id) {
  absl::StatusOr<TranslatorLookup> lookup = personalization_.cache->Get(tenant, user_id);
  if (!lookup.ok()) return lookup.status();
  metrics_->RecordTranslatorLookup(LookupResultName(lookup->source), lookup->store_seconds,
                                   lookup->evictions);
  if (lookup->source != TranslatorLookup::Source::kCache) {
    metrics_->SetTranslatorCacheSize(personalization_.cache->entries(),
                                     personalization_.cache->bytes());
  }
  return lookup->user;
}

absl::Status ExpressionService::Personalize(const pft::Translator& translator,
                                            std::vector<FaceAnalysis>* faces) {
  const int dim = analyzer_->feature_dim();
  std::vector<float> features;
  features.reserve(faces->size() * dim);
  for (const FaceAnalysis& face : *faces) {
    if (face.features.size() != static_cast<size_t>(dim)) {
      return absl::InternalError("a face has no backbone features to personalize");
    }
    features.insert(features.end(), face.features.begin(), face.features.end());
  }
  const int batch = static_cast<int>(faces->size());
  absl::StatusOr<std::vector<float>> probabilities =
      TranslateAndClassify(translator, features, batch);
  if (!probabilities.ok()) return probabilities.status();
  const size_t classes = analyzer_->labels().size();
  for (int i = 0; i < batch; ++i) {
    std::vector<float>& p = (*faces)[i].probabilities;
    p.assign(probabilities->begin() + i * classes, probabilities->begin() + (i + 1) * classes);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> ExpressionService::TranslateAndClassify(
    const pft::Translator& translator, const std::vector<float>& features, int batch) {
  return CallModel("personalization", [&]() -> absl::StatusOr<std::vector<float>> {
    absl::StatusOr<std::vector<float>> translated = translator.Forward(features, batch);
    if (!translated.ok()) return translated.status();
    return analyzer_->Classify(*translated, batch);
  });
}

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

absl::StatusOr<RgbImage> ExpressionService::DecodeFrame(const fer::v1::Frame& frame) const {
  switch (frame.data_case()) {
    case fer::v1::Frame::kEncoded:
      return DecodeEncodedFrame(frame.encoded(), options_.frame_limits);
    case fer::v1::Frame::kRaw: {
      const fer::v1::RawImage& raw = frame.raw();
      return DecodeRawFrame(
          RawFrame{raw.width(), raw.height(), raw.stride(), FromProto(raw.format()), raw.pixels()},
          options_.frame_limits);
    }
    case fer::v1::Frame::DATA_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("frame has no data: set encoded or raw");
}

grpc::Status ExpressionService::StreamPredict(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<PredictResponse, PredictRequest>* stream) {
  absl::StatusOr<std::string> tenant = TenantOf(*context);
  if (!tenant.ok()) return Finish("StreamPredict", ToGrpcStatus(tenant.status()));
  absl::StatusOr<std::unique_ptr<StreamAdmission::Ticket>> ticket = admission_->Admit();
  if (!ticket.ok()) return Finish("StreamPredict", ToGrpcStatus(ticket.status()));
  metrics_->StreamStarted();
  grpc::Status status = StreamPredictImpl(context, *tenant, stream);
  metrics_->StreamEnded();
  return Finish("StreamPredict", status);
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
    metrics_->ObserveStage(FrameStage::kPersonalization, SecondsSince(personalize_start));
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
  const double total = SecondsSince(received);
  response->set_server_latency_us(static_cast<int64_t>(total * 1e6));
  metrics_->ObserveStage(FrameStage::kTotal, total);
  return absl::OkStatus();
}

grpc::Status ExpressionService::StreamPredictImpl(
    grpc::ServerContext* context, const std::string& tenant,
    grpc::ServerReaderWriter<PredictResponse, PredictRequest>* stream) {
  PredictRequest request;
  Stream state;  // from the first message's config
  const std::unique_ptr<StreamWatchdog::Watch> watch = WatchIdleness(context);
  const absl::Time opened = absl::Now();
  const absl::Duration frame_interval = options_.max_stream_fps > 0
                                            ? absl::Seconds(1.0 / options_.max_stream_fps)
                                            : absl::ZeroDuration();
  absl::Time next_frame = opened;
  for (uint64_t index = 0; stream->Read(&request); ++index) {
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
  return IdleStatus(watch.get());
}

absl::StatusOr<std::vector<float>> ExpressionService::PredictClip(grpc::ServerContext* context,
                                                                  const std::vector<RgbImage>& clip,
                                                                  const pft::Translator* translator,
                                                                  double* backbone_seconds) {
  absl::StatusOr<BackboneOutput> out;
  {
    std::optional<InferenceGate::Slot> slot = gate_->Take(Deadline(*context));
    if (!slot.has_value()) return absl::DeadlineExceededError("deadline passed while queued");
    const absl::Time start = absl::Now();
    out = CallModel("the clip backbone", [&] { return analyzer_->RunClips({clip}); });
    *backbone_seconds += SecondsSince(start);
  }
  if (!out.ok()) return out.status();
  if (translator == nullptr) return out->probabilities;
  return TranslateAndClassify(*translator, out->features, 1);
}

std::unique_ptr<StreamWatchdog::Watch> ExpressionService::WatchIdleness(
    grpc::ServerContext* context) {
  if (options_.watchdog == nullptr) return nullptr;
  return options_.watchdog->Start([context] { context->TryCancel(); });
}

grpc::Status ExpressionService::IdleStatus(const StreamWatchdog::Watch* watch) {
  if (watch != nullptr && watch->expired()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "no message within --stream_idle_timeout; stream cancelled");
  }
  return grpc::Status::OK;
}

grpc::Status ExpressionService::GetModelInfo(grpc::ServerContext* context,
                                             const fer::v1::GetModelInfoRequest*,
                                             fer::v1::ModelInfo* info) {
  if (absl::StatusOr<std::string> tenant = TenantOf(*context); !tenant.ok()) {
    return Finish("GetModelInfo", ToGrpcStatus(tenant.status()));
  }
  info->set_backbone_id(analyzer_->backbone_id());
  for (const std::string& label : analyzer_->labels()) info->add_labels(label);
  info->set_feature_dim(analyzer_->feature_dim());
  info->set_input_size(analyzer_->input_size());
  info->set_clip_frames(static_cast<uint32_t>(analyzer_->clip_frames()));
  info->set_clip_stride(static_cast<uint32_t>(analyzer_->clip_stride()));
  info->set_detector(analyzer_->detector_name());
  info->set_device(analyzer_->device_name());
  info->set_server_version(options_.server_version);
  if (personalization_.bundle != nullptr) {
    info->set_translator_parameters(
        static_cast<uint64_t>(personalization_.bundle->translator.num_parameters()));
  }
  return Finish("GetModelInfo", grpc::Status::OK);
}

namespace {

// A store error as the RPC's answer: NotFound names the user, Unavailable
// says which store is down.
grpc::Status StoreError(const absl::Status& status, absl::string_view user_id,
                        const ProfileStore& store) {
  if (absl::IsNotFound(status)) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no profile for user \"", user_id, "\""));
  }
  if (absl::IsUnavailable(status)) {
    return grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("profile store unavailable (", store.Describe(), "): ", status.message()));
  }
  return ToGrpcStatus(status);
}

void FillQualityReport(const QualityReport& quality, fer::v1::QualityReport* out) {
  out->set_neutral_rate_before(static_cast<float>(quality.neutral_rate_before));
  out->set_neutral_rate_after(static_cast<float>(quality.neutral_rate_after));
  out->set_mean_kl_to_generic(static_cast<float>(quality.mean_kl_to_generic));
  out->set_features_used(static_cast<uint32_t>(quality.features_used));
  out->set_steps(static_cast<uint32_t>(quality.steps));
  out->set_early_stopped(quality.early_stopped);
}

// One step of Adapt's training: its loss and the loss's terms.
fer::v1::AdaptProgress ProgressMessage(const pft::AdaptProgress& progress) {
  fer::v1::AdaptProgress message;
  message.set_step(static_cast<uint32_t>(progress.step));
  message.set_total_steps(static_cast<uint32_t>(progress.total_steps));
  message.set_loss(static_cast<float>(progress.train.total));
  auto& terms = *message.mutable_loss_terms();
  terms["ce"] = static_cast<float>(progress.train.cross_entropy);
  terms["consistency"] = static_cast<float>(progress.train.consistency);
  terms["alignment"] = static_cast<float>(progress.train.alignment);
  terms["anchor"] = static_cast<float>(progress.train.anchor);
  terms["preservation"] = static_cast<float>(progress.train.preservation);
  return message;
}

// Adapt's last message: the profile version that serves the user, and its
// adaptation's quality.
void WriteAdaptDone(uint64_t version, const QualityReport& quality,
                    grpc::ServerWriter<fer::v1::AdaptProgress>* writer) {
  fer::v1::AdaptProgress done;
  done.set_done(true);
  done.set_profile_version(version);
  FillQualityReport(quality, done.mutable_report());
  writer->Write(done);
}

fer::v1::FrameVerdict::Reason ToProto(EnrollmentVerdict verdict) {
  switch (verdict) {
    case EnrollmentVerdict::kAccepted:
      return fer::v1::FrameVerdict::ACCEPTED;
    case EnrollmentVerdict::kNoFace:
      return fer::v1::FrameVerdict::NO_FACE;
    case EnrollmentVerdict::kMultipleFaces:
      return fer::v1::FrameVerdict::MULTIPLE_FACES;
    case EnrollmentVerdict::kFaceTooSmall:
      return fer::v1::FrameVerdict::FACE_TOO_SMALL;
    case EnrollmentVerdict::kTooBlurry:
      return fer::v1::FrameVerdict::TOO_BLURRY;
    case EnrollmentVerdict::kHeadPoseTooLarge:
      return fer::v1::FrameVerdict::HEAD_POSE_TOO_LARGE;
  }
  return fer::v1::FrameVerdict::ACCEPTED;
}

}  // namespace

grpc::Status ExpressionService::EnrollNeutral(grpc::ServerContext* context,
                                              grpc::ServerReader<fer::v1::EnrollRequest>* reader,
                                              fer::v1::EnrollResponse* response) {
  absl::StatusOr<std::string> tenant = TenantOf(*context);
  if (!tenant.ok()) return Finish("EnrollNeutral", ToGrpcStatus(tenant.status()));
  return Finish("EnrollNeutral", EnrollNeutralImpl(context, *tenant, reader, response));
}

absl::StatusOr<fer::v1::FrameVerdict> ExpressionService::JudgeEnrollmentFrame(
    grpc::ServerContext* context, uint64_t index, const fer::v1::Frame& frame,
    std::vector<float>* features) {
  fer::v1::FrameVerdict verdict;
  verdict.set_frame_index(index);
  AnalyzeOptions analyze;
  analyze.detect.min_score = options_.default_min_face_score;
  analyze.with_features = true;
  FrameRun run;
  absl::StatusOr<std::vector<FaceAnalysis>> faces =
      AnalyzeFrame(context, frame, analyze, /*max_faces=*/0, &run);
  if (run.undecodable) {
    metrics_->AddRejectedFrame("invalid_frame");
    verdict.set_reason(fer::v1::FrameVerdict::UNDECODABLE);
    verdict.set_detail(std::string(faces.status().message()));
    return verdict;
  }
  if (!faces.ok()) return faces.status();
  metrics_->AddFrames(1, static_cast<int>(faces->size()));
  const EnrollmentCheck check =
      CheckEnrollmentFrame(*faces, run.image, neutral_index_, options_.enrollment);
  verdict.set_reason(ToProto(check.verdict));
  verdict.set_detail(check.detail);
  if (check.neutral_probability.has_value()) {
    verdict.set_neutral_probability(*check.neutral_probability);
  }
  if (check.accepted()) *features = faces->front().features;
  return verdict;
}

grpc::Status ExpressionService::EnrollNeutralImpl(
    grpc::ServerContext* context, const std::string& tenant,
    grpc::ServerReader<fer::v1::EnrollRequest>* reader, fer::v1::EnrollResponse* response) {
  fer::v1::EnrollRequest request;
  std::string user_id;
  std::vector<std::vector<float>> accepted;
  std::unique_ptr<StreamWatchdog::Watch> watch = WatchIdleness(context);
  for (uint64_t index = 0; reader->Read(&request); ++index) {
    if (watch != nullptr) watch->Touch();
    if (index == 0) {
      user_id = request.user_id();
      if (absl::Status valid = ValidateProfileId("user id", user_id); !valid.ok()) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("first message: ", valid.message()));
      }
    } else if (request.user_id() != user_id) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("message ", index, ": user_id \"", request.user_id(), "\" differs from \"",
                       user_id, "\" of the first message; one stream enrolls one user"));
    }
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");

    std::vector<float> features;
    absl::StatusOr<fer::v1::FrameVerdict> verdict =
        JudgeEnrollmentFrame(context, index, request.frame(), &features);
    if (!verdict.ok()) return FrameError(index, verdict.status());
    if (verdict->reason() == fer::v1::FrameVerdict::ACCEPTED) {
      response->set_accepted(response->accepted() + 1);
      accepted.push_back(std::move(features));
      if (!verdict->detail().empty()) *response->add_verdicts() = *std::move(verdict);
    } else {
      response->set_rejected(response->rejected() + 1);
      *response->add_verdicts() = *std::move(verdict);
    }
    if (watch != nullptr) watch->Touch();  // idle time is time spent waiting for the client
  }
  if (grpc::Status idle = IdleStatus(watch.get()); !idle.ok()) return idle;
  watch.reset();  // the client is done; the store writes below are not idleness
  if (user_id.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "no messages: the first one must carry user_id and a frame");
  }
  response->set_user_id(user_id);

  absl::StatusOr<Profile> profile = store_->Get(tenant, user_id, kProfileFeatures);
  if (!profile.ok() && !absl::IsNotFound(profile.status())) {
    return StoreError(profile.status(), user_id, *store_);
  }
  if (!accepted.empty()) {
    profile = store_->AppendFeatures(tenant, user_id, accepted);
    if (!profile.ok()) return StoreError(profile.status(), user_id, *store_);
    if (profile->backbone_id.empty()) {
      // A first enrollment: record which backbone the features come from. A
      // concurrent writer (Aborted) will have done the same.
      Profile with_backbone = *profile;
      with_backbone.backbone_id = analyzer_->backbone_id();
      absl::StatusOr<uint64_t> put = store_->Put(with_backbone, profile->version);
      if (!put.ok() && !absl::IsAborted(put.status())) {
        return StoreError(put.status(), user_id, *store_);
      }
    }
  }
  response->set_enrolled_features(
      profile.ok() ? static_cast<uint32_t>(profile->bank.features.size()) : 0);
  return grpc::Status::OK;
}

grpc::Status ExpressionService::Adapt(grpc::ServerContext* context,
                                      const fer::v1::AdaptRequest* request,
                                      grpc::ServerWriter<fer::v1::AdaptProgress>* writer) {
  absl::StatusOr<std::string> tenant = TenantOf(*context);
  if (!tenant.ok()) return Finish("Adapt", ToGrpcStatus(tenant.status()));
  return Finish("Adapt", AdaptImpl(context, *tenant, request, writer));
}

grpc::Status ExpressionService::AdaptImpl(grpc::ServerContext* context, const std::string& tenant,
                                          const fer::v1::AdaptRequest* request,
                                          grpc::ServerWriter<fer::v1::AdaptProgress>* writer) {
  const std::string& user_id = request->user_id();
  if (absl::Status valid = ValidateProfileId("user id", user_id); !valid.ok()) {
    return ToGrpcStatus(valid);
  }
  const pft::ModelBundle* bundle = personalization_.bundle;
  if (bundle == nullptr) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this server runs without a PFT model bundle (--pft_bundle), so it cannot "
                        "adapt; already adapted users are still served");
  }
  if (static_cast<int>(request->max_steps()) > options_.adapt_max_steps_limit) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("max_steps ", request->max_steps(), " exceeds the limit ",
                                     options_.adapt_max_steps_limit));
  }
  absl::StatusOr<Profile> profile = store_->Get(tenant, user_id, kProfileFeatures);
  if (absl::IsNotFound(profile.status())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no profile for user \"", user_id,
                                     "\"; enroll neutral frames first (EnrollNeutral)"));
  }
  if (!profile.ok()) return StoreError(profile.status(), user_id, *store_);
  if (!profile->backbone_id.empty() && profile->backbone_id != analyzer_->backbone_id()) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("user \"", user_id, "\" was enrolled with backbone ", profile->backbone_id,
                     ", this server runs ", analyzer_->backbone_id(), "; delete and re-enroll"));
  }
  // Idempotence: nothing changed since the last adaptation, so its result
  // stands.
  if (profile->translator_version != 0 && profile->translator_version == profile->version) {
    WriteAdaptDone(profile->translator_version, profile->quality, writer);
    return grpc::Status::OK;
  }
  const int count = static_cast<int>(profile->bank.features.size());
  if (count < options_.adapt_min_features) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("user \"", user_id, "\" has ", count,
                                     " enrolled neutral features; adaptation needs at least ",
                                     options_.adapt_min_features, " (EnrollNeutral more frames)"));
  }
  const std::vector<float> features = profile->bank.Flattened();

  pft::AdaptOptions adapt = options_.adapt;
  if (request->max_steps() != 0) adapt.max_steps = static_cast<int>(request->max_steps());
  if (request->seed() != 0) adapt.seed = request->seed();
  adapt.progress = [writer](const pft::AdaptProgress& p) { writer->Write(ProgressMessage(p)); };
  adapt.cancelled = [context] { return context->IsCancelled(); };

  // Adaptation is model work: it takes an inference slot like a frame does.
  absl::StatusOr<pft::AdaptResult> result;
  {
    std::optional<InferenceGate::Slot> slot = gate_->Take(Deadline(*context));
    if (!slot.has_value()) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "deadline passed while queued");
    }
    result = CallModel("training", [&] {
      return pft::Adapt(*bundle, personalization_.head, features, count, adapt);
    });
  }
  if (!result.ok()) {
    if (absl::IsCancelled(result.status()) || absl::IsResourceExhausted(result.status())) {
      return ToGrpcStatus(result.status());
    }
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("adaptation failed: ", result.status().message()));
  }
  metrics_->ObserveAdaptation(result->report.seconds);
  return CommitAdaptation(*profile, *result, writer);
}

grpc::Status ExpressionService::CommitAdaptation(
    const Profile& profile, const pft::AdaptResult& result,
    grpc::ServerWriter<fer::v1::AdaptProgress>* writer) {
  const std::string& tenant = profile.tenant;
  const std::string& user_id = profile.user_id;
  Profile updated = profile;
  updated.translator = pft::EncodeTranslator(result.translator);
  updated.backbone_id = analyzer_->backbone_id();
  updated.adapted_unix_ms = absl::ToUnixMillis(absl::Now());
  updated.quality.neutral_rate_before = result.report.neutral_rate_before;
  updated.quality.neutral_rate_after = result.report.neutral_rate_after;
  updated.quality.mean_kl_to_generic = result.report.mean_kl_to_generic;
  updated.quality.features_used = profile.bank.features.size();
  updated.quality.steps = static_cast<uint64_t>(result.report.steps);
  updated.quality.early_stopped = result.report.early_stopped;
  absl::StatusOr<uint64_t> version = store_->Put(updated, profile.version);
  if (absl::IsAborted(version.status())) {
    // Another replica committed first. If that was an adaptation of the
    // current enrollment, its result is this call's answer too.
    absl::StatusOr<Profile> now = store_->Get(tenant, user_id, kProfileMeta);
    if (!now.ok()) return StoreError(now.status(), user_id, *store_);
    if (now->translator_version == now->version && now->version > profile.version) {
      WriteAdaptDone(now->translator_version, now->quality, writer);
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::ABORTED,
                        absl::StrCat("the profile of user \"", user_id,
                                     "\" changed while adapting (a concurrent enrollment or "
                                     "deletion); call Adapt again"));
  }
  if (!version.ok()) return StoreError(version.status(), user_id, *store_);
  personalization_.cache->Put(
      tenant, user_id,
      UserTranslator{*version, std::make_shared<const pft::Translator>(result.translator)});
  WriteAdaptDone(*version, updated.quality, writer);
  return grpc::Status::OK;
}

grpc::Status ExpressionService::GetProfile(grpc::ServerContext* context,
                                           const fer::v1::GetProfileRequest* request,
                                           fer::v1::Profile* out) {
  absl::StatusOr<std::string> tenant = TenantOf(*context);
  if (!tenant.ok()) return Finish("GetProfile", ToGrpcStatus(tenant.status()));
  const std::string& user_id = request->user_id();
  if (absl::Status valid = ValidateProfileId("user id", user_id); !valid.ok()) {
    return Finish("GetProfile", ToGrpcStatus(valid));
  }
  absl::StatusOr<Profile> profile = store_->Get(*tenant, user_id, kProfileFeatures);
  if (!profile.ok()) return Finish("GetProfile", StoreError(profile.status(), user_id, *store_));
  out->set_user_id(user_id);
  out->set_version(profile->translator_version);
  out->set_enrolled_features(static_cast<uint32_t>(profile->bank.features.size()));
  out->set_created_unix_ms(profile->created_unix_ms);
  out->set_updated_unix_ms(profile->updated_unix_ms);
  out->set_adapted_unix_ms(profile->adapted_unix_ms);
  out->set_backbone_id(profile->backbone_id);
  if (profile->adapted_unix_ms != 0)
    FillQualityReport(profile->quality, out->mutable_last_report());
  return Finish("GetProfile", grpc::Status::OK);
}

grpc::Status ExpressionService::DeleteProfile(grpc::ServerContext* context,
                                              const fer::v1::DeleteProfileRequest* request,
                                              fer::v1::DeleteProfileResponse* response) {
  absl::StatusOr<std::string> tenant = TenantOf(*context);
  if (!tenant.ok()) return Finish("DeleteProfile", ToGrpcStatus(tenant.status()));
  const std::string& user_id = request->user_id();
  if (absl::Status valid = ValidateProfileId("user id", user_id); !valid.ok()) {
    return Finish("DeleteProfile", ToGrpcStatus(valid));
  }
  absl::StatusOr<int64_t> removed = store_->Delete(*tenant, user_id);
  if (!removed.ok()) {
    return Finish("DeleteProfile", StoreError(removed.status(), user_id, *store_));
  }
  personalization_.cache->Erase(*tenant, user_id);
  if (*removed == 0) {
    return Finish("DeleteProfile",
                  grpc::Status(grpc::StatusCode::NOT_FOUND,
                               absl::StrCat("no profile for user \"", user_id, "\"")));
  }
  response->set_user_id(user_id);
  response->set_records_deleted(static_cast<uint32_t>(*removed));
  return Finish("DeleteProfile", grpc::Status::OK);
}

}  // namespace fer
