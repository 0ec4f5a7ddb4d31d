// ExpressionService's profile RPCs: EnrollNeutral, Adapt (and committing its
// result), GetProfile and DeleteProfile.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/pft/translator.h"
#include "lib/pft/translator_codec.h"
#include "lib/serving/model_call.h"
#include "server/expression_service.h"
#include "server/grpc_edge.h"

namespace fer {
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
    case EnrollmentVerdict::kNotNeutral:
      return fer::v1::FrameVerdict::NOT_NEUTRAL;
  }
  return fer::v1::FrameVerdict::ACCEPTED;
}

}  // namespace

grpc::Status ExpressionService::EnrollNeutral(grpc::ServerContext* context,
                                              grpc::ServerReader<fer::v1::EnrollRequest>* reader,
                                              fer::v1::EnrollResponse* response) {
  return Serve("EnrollNeutral", *context, [&](Call& call) {
    call.frames = 0;
    return EnrollNeutralImpl(context, call.tenant, reader, response, &call.frames);
  });
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
    grpc::ServerReader<fer::v1::EnrollRequest>* reader, fer::v1::EnrollResponse* response,
    int64_t* frames) {
  fer::v1::EnrollRequest request;
  std::string user_id;
  std::vector<std::vector<float>> accepted;
  std::unique_ptr<StreamWatchdog::Watch> watch = WatchIdleness(context);
  for (uint64_t index = 0; reader->Read(&request); ++index) {
    *frames = static_cast<int64_t>(index) + 1;
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
  if (grpc::Status ended = EndOfReadsStatus(*context, watch.get()); !ended.ok()) return ended;
  watch.reset();  // the client is done; the store writes below are not idleness
  if (user_id.empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "no messages: the first one must carry user_id and a frame");
  }
  response->set_user_id(user_id);

  if (accepted.empty()) {
    // Nothing to store: the answer says how many features the user has.
    absl::StatusOr<Profile> profile = store_->Get(tenant, user_id, kProfileMeta);
    if (!profile.ok() && !absl::IsNotFound(profile.status())) {
      return StoreError(profile.status(), user_id, *store_);
    }
    response->set_enrolled_features(profile.ok() ? profile->enrolled_features : 0);
    return grpc::Status::OK;
  }
  // AppendFeatures reads the profile itself (and fails as Get would).
  absl::StatusOr<Profile> profile = store_->AppendFeatures(tenant, user_id, accepted);
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
  response->set_enrolled_features(profile->enrolled_features);
  return grpc::Status::OK;
}

grpc::Status ExpressionService::Adapt(grpc::ServerContext* context,
                                      const fer::v1::AdaptRequest* request,
                                      grpc::ServerWriter<fer::v1::AdaptProgress>* writer) {
  return Serve("Adapt", *context,
               [&](Call& call) { return AdaptImpl(context, call.tenant, request, writer); });
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
    std::optional<InferenceGate::Slot> slot = gate_->Take(CallDeadline(*context));
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
  return Serve("GetProfile", *context, [&](Call& call) {
    const std::string& user_id = request->user_id();
    if (absl::Status valid = ValidateProfileId("user id", user_id); !valid.ok()) {
      return ToGrpcStatus(valid);
    }
    absl::StatusOr<Profile> profile = store_->Get(call.tenant, user_id, kProfileMeta);
    if (!profile.ok()) return StoreError(profile.status(), user_id, *store_);
    out->set_user_id(user_id);
    out->set_version(profile->translator_version);
    out->set_enrolled_features(profile->enrolled_features);
    out->set_created_unix_ms(profile->created_unix_ms);
    out->set_updated_unix_ms(profile->updated_unix_ms);
    out->set_adapted_unix_ms(profile->adapted_unix_ms);
    out->set_backbone_id(profile->backbone_id);
    if (profile->adapted_unix_ms != 0) {
      FillQualityReport(profile->quality, out->mutable_last_report());
    }
    return grpc::Status::OK;
  });
}

grpc::Status ExpressionService::DeleteProfile(grpc::ServerContext* context,
                                              const fer::v1::DeleteProfileRequest* request,
                                              fer::v1::DeleteProfileResponse* response) {
  return Serve("DeleteProfile", *context, [&](Call& call) {
    const std::string& user_id = request->user_id();
    if (absl::Status valid = ValidateProfileId("user id", user_id); !valid.ok()) {
      return ToGrpcStatus(valid);
    }
    absl::StatusOr<int64_t> removed = store_->Delete(call.tenant, user_id);
    if (!removed.ok()) return StoreError(removed.status(), user_id, *store_);
    personalization_.cache->Erase(call.tenant, user_id);
    if (*removed == 0) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no profile for user \"", user_id, "\""));
    }
    response->set_user_id(user_id);
    response->set_records_deleted(static_cast<uint32_t>(*removed));
    return grpc::Status::OK;
  });
}

}  // namespace fer
