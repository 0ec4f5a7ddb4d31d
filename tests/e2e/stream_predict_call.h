#ifndef FERSERVE_TESTS_E2E_STREAM_PREDICT_CALL_H_
#define FERSERVE_TESTS_E2E_STREAM_PREDICT_CALL_H_

// StreamPredict calls for end-to-end tests, through the generated stubs.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"

namespace fer::testing {

// A StreamPredict call's answers, in order, and its final status.
struct PredictOutcome {
  std::vector<fer::v1::PredictResponse> responses;
  grpc::Status status;
};

// A request carrying one encoded image.
inline fer::v1::PredictRequest FrameRequest(std::string encoded) {
  fer::v1::PredictRequest request;
  request.mutable_frame()->set_encoded(std::move(encoded));
  return request;
}

// Requests for `frames`, in order; the first carries `config` unless it is
// empty.
inline std::vector<fer::v1::PredictRequest> FrameRequests(
    const std::vector<std::string>& frames, const fer::v1::StreamConfig& config = {}) {
  std::vector<fer::v1::PredictRequest> requests;
  for (const std::string& frame : frames) requests.push_back(FrameRequest(frame));
  if (!requests.empty() && config.ByteSizeLong() > 0) *requests[0].mutable_config() = config;
  return requests;
}

// Sends `requests` one at a time, each once the previous one's answer came
// (so an early error is seen without writing into a closed stream), then
// half-closes and collects any further answers and the status.
// `after_answer(i)`, when given, runs once answer i has come.
inline PredictOutcome StreamInLockstep(fer::v1::ExpressionService::Stub* stub,
                                       const std::vector<fer::v1::PredictRequest>& requests,
                                       std::chrono::seconds deadline = std::chrono::seconds(300),
                                       const std::function<void(size_t)>& after_answer = {}) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  auto stream = stub->StreamPredict(&context);
  PredictOutcome outcome;
  for (size_t i = 0; i < requests.size(); ++i) {
    fer::v1::PredictResponse response;
    if (!stream->Write(requests[i]) || !stream->Read(&response)) break;
    outcome.responses.push_back(std::move(response));
    if (after_answer) after_answer(i);
  }
  stream->WritesDone();
  fer::v1::PredictResponse extra;
  while (stream->Read(&extra)) outcome.responses.push_back(extra);
  outcome.status = stream->Finish();
  return outcome;
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_E2E_STREAM_PREDICT_CALL_H_
