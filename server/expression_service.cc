// ExpressionService's shared parts: a frame's run through the models
// (AnalyzeFrame), tenants, translators and personalization, idleness, and
// GetModelInfo. StreamPredict is in stream_predict.cc, the profile RPCs in
// profile_rpcs.cc.
#include "server/expression_service.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/pft/translator.h"
#include "lib/serving/model_call.h"
#include "proto/grpc_code_name.h"
#include "server/grpc_edge.h"

namespace fer {
namespace {

// Without authentication every call belongs to this tenant.
constexpr char kDefaultTenant[] = "default";

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

}  // namespace

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
      options_(std::move(options)),
      neutral_index_(NeutralLabelIndex(analyzer_->labels())) {}

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
  const absl::Time deadline = CallDeadline(*context);
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
  run->decode_seconds = absl::ToDoubleSeconds(absl::Now() - admitted);
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
  if (analyze.timings != nullptr) {
    analyze.timings->backbone = absl::ToDoubleSeconds(absl::Now() - backbone_start);
  }
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

grpc::Status ExpressionService::Serve(const char* rpc, const grpc::ServerContext& context,
                                      const std::function<grpc::Status(Call&)>& body) {
  Call call(rpc, context);
  const absl::Status authenticated = Authenticate(&call);
  const grpc::Status status = authenticated.ok() ? body(call) : ToGrpcStatus(authenticated);
  metrics_->RecordRequest(call.rpc, GrpcCodeName(status.error_code()));
  if (options_.call_log != nullptr) {
    const std::string message = status.error_message();  // viewed by Record
    FinishedCall finished;
    finished.rpc = call.rpc;
    finished.code = static_cast<absl::StatusCode>(status.error_code());
    finished.message = message;
    finished.duration = absl::Now() - call.started;
    finished.tenant = call.tenant;
    finished.peer = call.peer;
    finished.frames = call.frames;
    options_.call_log->Record(finished);
  }
  return status;
}

absl::Status ExpressionService::Authenticate(Call* call) const {
  if (options_.tokens == nullptr) {
    call->tenant = kDefaultTenant;
    return absl::OkStatus();
  }
  const std::shared_ptr<const TenantTokens> tokens = options_.tokens->current();
  const auto& metadata = call->context.client_metadata();
  const auto it = metadata.find("authorization");
  absl::StatusOr<std::string> tenant = tokens->TenantOfAuthorization(
      it == metadata.end() ? absl::string_view()
                           : absl::string_view(it->second.data(), it->second.size()));
  if (!tenant.ok()) return tenant.status();
  call->tenant = *std::move(tenant);
  return absl::OkStatus();
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

std::unique_ptr<StreamWatchdog::Watch> ExpressionService::WatchIdleness(
    grpc::ServerContext* context) {
  if (options_.watchdog == nullptr) return nullptr;
  return options_.watchdog->Start([context] { context->TryCancel(); });
}

grpc::Status ExpressionService::EndOfReadsStatus(const grpc::ServerContext& context,
                                                 const StreamWatchdog::Watch* watch) {
  if (watch != nullptr && watch->expired()) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "no message within --stream_idle_timeout; stream cancelled");
  }
  return CutShortStatus(context);
}

grpc::Status ExpressionService::GetModelInfo(grpc::ServerContext* context,
                                             const fer::v1::GetModelInfoRequest*,
                                             fer::v1::ModelInfo* info) {
  return Serve("GetModelInfo", *context, [&](Call&) {
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
    return grpc::Status::OK;
  });
}

}  // namespace fer
