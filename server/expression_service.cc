#include "server/expression_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/serving/clip_smoother.h"
#include "server/grpc_status.h"

namespace fer {
namespace {

using fer::v1::PredictRequest;
using fer::v1::PredictResponse;

// Until authentication exists every call belongs to this tenant.
constexpr char kDefaultTenant[] = "default";

constexpr int kMaxClipWindow = 300;
constexpr int kMaxFaces = 32;

double SecondsSince(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

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

}  // namespace

struct ExpressionService::StreamSettings {
  std::string user_id;
  int clip_window;
  float min_face_score;
  int max_faces;
  bool include_landmarks;
  bool include_features;
};

ExpressionService::ExpressionService(FaceAnalyzer* analyzer, ServerMetrics* metrics,
                                     StreamAdmission* admission, InferenceGate* gate,
                                     ProfileStore* store, ExpressionServiceOptions options)
    : analyzer_(analyzer),
      metrics_(metrics),
      admission_(admission),
      gate_(gate),
      store_(store),
      options_(std::move(options)) {
  const std::vector<std::string>& labels = analyzer_->labels();
  const auto neutral = std::find(labels.begin(), labels.end(), "neutral");
  if (neutral != labels.end()) neutral_index_ = static_cast<int>(neutral - labels.begin());
}

absl::StatusOr<std::vector<FaceAnalysis>> ExpressionService::AnalyzeFrame(
    grpc::ServerContext* context, const RgbImage& image, const AnalyzeOptions& analyze,
    double* queue_seconds) {
  const absl::Time queued = absl::Now();
  if (!gate_->Acquire(context->deadline() == std::chrono::system_clock::time_point::max()
                          ? absl::InfiniteFuture()
                          : absl::FromChrono(context->deadline()))) {
    return absl::DeadlineExceededError("deadline passed while queued");
  }
  if (queue_seconds != nullptr) *queue_seconds = SecondsSince(queued);
  absl::StatusOr<std::vector<FaceAnalysis>> faces = analyzer_->Analyze(image, analyze);
  gate_->Release();
  return faces;
}

grpc::Status ExpressionService::Finish(const char* rpc, grpc::Status status) {
  metrics_->RecordRequest(rpc, GrpcCodeName(status.error_code()));
  return status;
}

absl::StatusOr<ExpressionService::StreamSettings> ExpressionService::SettingsFrom(
    const fer::v1::StreamConfig& config) const {
  StreamSettings s;
  s.user_id = config.user_id();
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
  absl::StatusOr<std::unique_ptr<StreamAdmission::Ticket>> ticket = admission_->Admit();
  if (!ticket.ok()) return Finish("StreamPredict", ToGrpcStatus(ticket.status()));
  metrics_->StreamStarted();
  grpc::Status status = StreamPredictImpl(context, stream);
  metrics_->StreamEnded();
  return Finish("StreamPredict", status);
}

grpc::Status ExpressionService::StreamPredictImpl(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<PredictResponse, PredictRequest>* stream) {
  const std::vector<std::string>& labels = analyzer_->labels();
  PredictRequest request;
  std::unique_ptr<ClipSmoother> clip;
  StreamSettings settings;
  for (uint64_t index = 0; stream->Read(&request); ++index) {
    const absl::Time received = absl::Now();
    if (index == 0) {
      absl::StatusOr<StreamSettings> parsed = SettingsFrom(request.config());
      if (!parsed.ok()) return ToGrpcStatus(parsed.status());
      settings = *std::move(parsed);
      clip = std::make_unique<ClipSmoother>(settings.clip_window, labels.size());
    }
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");

    absl::StatusOr<RgbImage> image = DecodeFrame(request.frame());
    if (!image.ok()) {
      metrics_->AddRejectedFrame("invalid_frame");
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("frame ", index, ": ", image.status().message()));
    }
    metrics_->ObserveStage(FrameStage::kDecode, SecondsSince(received));

    AnalyzeTimings timings;
    AnalyzeOptions analyze;
    analyze.detect.min_score = settings.min_face_score;
    analyze.with_features = settings.include_features;
    analyze.timings = &timings;
    double queue_seconds = 0;
    absl::StatusOr<std::vector<FaceAnalysis>> faces =
        AnalyzeFrame(context, *image, analyze, &queue_seconds);
    if (!faces.ok()) {
      return grpc::Status(static_cast<grpc::StatusCode>(faces.status().code()),
                          absl::StrCat("frame ", index, ": ", faces.status().message()));
    }
    metrics_->ObserveStage(FrameStage::kQueue, queue_seconds);
    metrics_->ObserveStage(FrameStage::kDetection, timings.detection);
    metrics_->ObserveStage(FrameStage::kBackbone, timings.landmarks + timings.backbone);

    // Largest faces first; the clip follows the largest.
    std::stable_sort(faces->begin(), faces->end(),
                     [](const FaceAnalysis& a, const FaceAnalysis& b) {
                       return a.detection.box.area() > b.detection.box.area();
                     });
    if (static_cast<int>(faces->size()) > settings.max_faces) faces->resize(settings.max_faces);

    PredictResponse response;
    response.set_frame_index(index);
    response.set_timestamp_us(request.frame().timestamp_us());
    response.set_frame_width(image->width);
    response.set_frame_height(image->height);
    response.set_face_found(!faces->empty());
    response.set_personalized(false);
    if (!settings.user_id.empty()) {
      response.set_personalization_note(
          "personalized prediction is not served yet (needs Adapt); generic model used");
    }
    for (const FaceAnalysis& face : *faces) {
      fer::v1::FacePrediction* out = response.add_faces();
      FillBox(face.detection.box, out->mutable_box());
      out->set_score(face.detection.score);
      if (settings.include_landmarks) {
        for (const Point& p : face.landmarks) {
          fer::v1::Point* q = out->add_landmarks();
          q->set_x(p.x);
          q->set_y(p.y);
        }
      }
      FillProbabilities(labels, face.probabilities, out);
      if (settings.include_features) {
        out->mutable_features()->Add(face.features.begin(), face.features.end());
      }
    }
    clip->Add(faces->empty() ? std::vector<float>() : faces->front().probabilities);
    if (clip->frames_with_face() > 0) {
      fer::v1::ClipPrediction* c = response.mutable_clip();
      c->set_frames(static_cast<uint32_t>(clip->frames_with_face()));
      FillProbabilities(labels, clip->Mean(), c);
    }
    metrics_->AddFrames(1, static_cast<int>(faces->size()));
    const double total = SecondsSince(received);
    response.set_server_latency_us(static_cast<int64_t>(total * 1e6));
    metrics_->ObserveStage(FrameStage::kTotal, total);
    if (!stream->Write(response)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
  }
  return grpc::Status::OK;
}

grpc::Status ExpressionService::GetModelInfo(grpc::ServerContext*,
                                             const fer::v1::GetModelInfoRequest*,
                                             fer::v1::ModelInfo* info) {
  info->set_backbone_id(analyzer_->backbone_id());
  for (const std::string& label : analyzer_->labels()) info->add_labels(label);
  info->set_feature_dim(analyzer_->feature_dim());
  info->set_input_size(analyzer_->input_size());
  info->set_clip_frames(1);
  info->set_detector(analyzer_->detector_name());
  info->set_device(analyzer_->device_name());
  info->set_server_version(options_.server_version);
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
  return Finish("EnrollNeutral", EnrollNeutralImpl(context, reader, response));
}

grpc::Status ExpressionService::EnrollNeutralImpl(
    grpc::ServerContext* context, grpc::ServerReader<fer::v1::EnrollRequest>* reader,
    fer::v1::EnrollResponse* response) {
  fer::v1::EnrollRequest request;
  std::string user_id;
  std::vector<std::vector<float>> accepted;
  for (uint64_t index = 0; reader->Read(&request); ++index) {
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

    fer::v1::FrameVerdict verdict;
    verdict.set_frame_index(index);
    absl::StatusOr<RgbImage> image = DecodeFrame(request.frame());
    if (!image.ok()) {
      metrics_->AddRejectedFrame("invalid_frame");
      verdict.set_reason(fer::v1::FrameVerdict::UNDECODABLE);
      verdict.set_detail(std::string(image.status().message()));
      *response->add_verdicts() = std::move(verdict);
      response->set_rejected(response->rejected() + 1);
      continue;
    }
    AnalyzeOptions analyze;
    analyze.detect.min_score = options_.default_min_face_score;
    analyze.with_features = true;
    absl::StatusOr<std::vector<FaceAnalysis>> faces = AnalyzeFrame(context, *image, analyze);
    if (!faces.ok()) {
      return grpc::Status(ToGrpcStatus(faces.status()).error_code(),
                          absl::StrCat("frame ", index, ": ", faces.status().message()));
    }
    metrics_->AddFrames(1, static_cast<int>(faces->size()));
    const EnrollmentCheck check =
        CheckEnrollmentFrame(*faces, *image, neutral_index_, options_.enrollment);
    verdict.set_reason(ToProto(check.verdict));
    verdict.set_detail(check.detail);
    if (check.neutral_probability.has_value()) {
      verdict.set_neutral_probability(*check.neutral_probability);
    }
    if (check.accepted()) {
      response->set_accepted(response->accepted() + 1);
      accepted.push_back(faces->front().features);
      if (!check.detail.empty()) *response->add_verdicts() = std::move(verdict);
    } else {
      response->set_rejected(response->rejected() + 1);
      *response->add_verdicts() = std::move(verdict);
    }
  }
  if (user_id.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "no messages: the first one must carry user_id and a frame");
  }
  response->set_user_id(user_id);

  absl::StatusOr<Profile> profile = store_->Get(kDefaultTenant, user_id, kProfileFeatures);
  if (!profile.ok() && !absl::IsNotFound(profile.status())) {
    return StoreError(profile.status(), user_id, *store_);
  }
  if (!accepted.empty()) {
    profile = store_->AppendFeatures(kDefaultTenant, user_id, accepted);
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

grpc::Status ExpressionService::Adapt(grpc::ServerContext*, const fer::v1::AdaptRequest*,
                                      grpc::ServerWriter<fer::v1::AdaptProgress>*) {
  return Finish("Adapt", grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                      "Adapt needs the PFT bundle (pre-trained translator), which "
                                      "this server version does not load yet; it comes next. "
                                      "EnrollNeutral, GetProfile and DeleteProfile work"));
}

grpc::Status ExpressionService::GetProfile(grpc::ServerContext*,
                                           const fer::v1::GetProfileRequest* request,
                                           fer::v1::Profile* out) {
  const std::string& user_id = request->user_id();
  if (absl::Status valid = ValidateProfileId("user id", user_id); !valid.ok()) {
    return Finish("GetProfile", ToGrpcStatus(valid));
  }
  absl::StatusOr<Profile> profile = store_->Get(kDefaultTenant, user_id, kProfileFeatures);
  if (!profile.ok()) return Finish("GetProfile", StoreError(profile.status(), user_id, *store_));
  out->set_user_id(user_id);
  out->set_version(profile->translator_version);
  out->set_enrolled_features(static_cast<uint32_t>(profile->bank.features.size()));
  out->set_created_unix_ms(profile->created_unix_ms);
  out->set_updated_unix_ms(profile->updated_unix_ms);
  out->set_adapted_unix_ms(profile->adapted_unix_ms);
  out->set_backbone_id(profile->backbone_id);
  if (profile->adapted_unix_ms != 0) {
    fer::v1::QualityReport* report = out->mutable_last_report();
    report->set_neutral_rate_before(static_cast<float>(profile->quality.neutral_rate_before));
    report->set_neutral_rate_after(static_cast<float>(profile->quality.neutral_rate_after));
    report->set_mean_kl_to_generic(static_cast<float>(profile->quality.mean_kl_to_generic));
    report->set_features_used(static_cast<uint32_t>(profile->quality.features_used));
    report->set_steps(static_cast<uint32_t>(profile->quality.steps));
    report->set_early_stopped(profile->quality.early_stopped);
  }
  return Finish("GetProfile", grpc::Status::OK);
}

grpc::Status ExpressionService::DeleteProfile(grpc::ServerContext*,
                                              const fer::v1::DeleteProfileRequest* request,
                                              fer::v1::DeleteProfileResponse* response) {
  const std::string& user_id = request->user_id();
  if (absl::Status valid = ValidateProfileId("user id", user_id); !valid.ok()) {
    return Finish("DeleteProfile", ToGrpcStatus(valid));
  }
  absl::StatusOr<int64_t> removed = store_->Delete(kDefaultTenant, user_id);
  if (!removed.ok()) {
    return Finish("DeleteProfile", StoreError(removed.status(), user_id, *store_));
  }
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
