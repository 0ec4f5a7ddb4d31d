#ifndef FERSERVE_CLIENT_FERCTL_PREDICT_STREAM_H_
#define FERSERVE_CLIENT_FERCTL_PREDICT_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <functional>

#include "absl/status/status.h"
#include "client/ferctl/connection.h"
#include "client/ferctl/frame_source.h"
#include "fer/v1/expression_service.grpc.pb.h"

namespace ferctl {

// What one StreamPredict call over a frame source ended with.
struct PredictOutcome {
  grpc::Status rpc;     // the call's status
  absl::Status source;  // a frame that could not be read, if any
  int64_t answers = 0;
};

// Called once per answer, in frame order, with the frame it answers.
// Returning false cancels the call.
using AnswerCallback =
    std::function<bool(const SourceFrame& frame, const fer::v1::PredictResponse& answer)>;

// Streams every frame of `source` through StreamPredict with `config`,
// keeping a few frames in flight so that reading, transfer and inference
// overlap.
PredictOutcome RunPredictStream(const Connection& connection, FrameSource& source,
                                const fer::v1::StreamConfig& config,
                                const AnswerCallback& on_answer);

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_PREDICT_STREAM_H_
