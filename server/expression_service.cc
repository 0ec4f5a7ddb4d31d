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
                                     ExpressionServiceOptions options)
    : analyzer_(analyzer),
      metrics_(metrics),
      admission_(admission),
      gate_(gate),
      options_(std::move(options)) {}

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

    const absl::Time queued = absl::Now();
    if (!gate_->Acquire(context->deadline() == std::chrono::system_clock::time_point::max()
                            ? absl::InfiniteFuture()
                            : absl::FromChrono(context->deadline()))) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat("frame ", index, ": deadline passed while queued"));
    }
    metrics_->ObserveStage(FrameStage::kQueue, SecondsSince(queued));
    AnalyzeTimings timings;
    AnalyzeOptions analyze;
    analyze.detect.min_score = settings.min_face_score;
    analyze.with_features = settings.include_features;
    analyze.timings = &timings;
    absl::StatusOr<std::vector<FaceAnalysis>> faces = analyzer_->Analyze(*image, analyze);
    gate_->Release();
    if (!faces.ok()) return ToGrpcStatus(faces.status());
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
      response.set_personalization_note("no profile store on this server; generic model used");
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
grpc::Status ProfilesNotEnabled(const char* rpc) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat(rpc,
                                   " needs the profile store, which this server version does not "
                                   "have yet; StreamPredict serves the generic model"));
}
}  // namespace

grpc::Status ExpressionService::EnrollNeutral(grpc::ServerContext*,
                                              grpc::ServerReader<fer::v1::EnrollRequest>*,
                                              fer::v1::EnrollResponse*) {
  return Finish("EnrollNeutral", ProfilesNotEnabled("EnrollNeutral"));
}

grpc::Status ExpressionService::Adapt(grpc::ServerContext*, const fer::v1::AdaptRequest*,
                                      grpc::ServerWriter<fer::v1::AdaptProgress>*) {
  return Finish("Adapt", ProfilesNotEnabled("Adapt"));
}

grpc::Status ExpressionService::GetProfile(grpc::ServerContext*, const fer::v1::GetProfileRequest*,
                                           fer::v1::Profile*) {
  return Finish("GetProfile", ProfilesNotEnabled("GetProfile"));
}

grpc::Status ExpressionService::DeleteProfile(grpc::ServerContext*,
                                              const fer::v1::DeleteProfileRequest*,
                                              fer::v1::DeleteProfileResponse*) {
  return Finish("DeleteProfile", ProfilesNotEnabled("DeleteProfile"));
}

}  // namespace fer
