#include "client/ferctl/predict_stream.h"

#include <deque>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "client/ferctl/frame_message.h"

namespace ferctl {
namespace {

constexpr size_t kFramesInFlight = 4;

}  // namespace

PredictOutcome RunPredictStream(const Connection& connection, FrameSource& source,
                                const fer::v1::StreamConfig& config,
                                const AnswerCallback& on_answer) {
  auto stub = connection.NewStub();
  std::unique_ptr<grpc::ClientContext> context = connection.NewContext(kNoDeadline);
  auto stream = stub->StreamPredict(context.get());

  absl::Mutex mu;
  std::deque<SourceFrame> in_flight;  // sent, not yet answered; guarded by mu
  bool reading_done = false;          // guarded by mu
  PredictOutcome outcome;
  const auto has_room = [&]() { return in_flight.size() < kFramesInFlight || reading_done; };

  std::thread writer([&] {
    bool first = true;
    while (true) {
      absl::StatusOr<std::optional<SourceFrame>> next = source.Next();
      if (!next.ok()) {
        outcome.source = next.status();
        context->TryCancel();
        break;
      }
      if (!next->has_value()) break;
      fer::v1::PredictRequest request;
      if (first) *request.mutable_config() = config;
      first = false;
      ToFrameMessage(**next, request.mutable_frame());
      {
        absl::MutexLock lock(&mu);
        mu.Await(absl::Condition(&has_room));
        if (reading_done) break;
        in_flight.push_back(std::move(**next));
      }
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
  });

  fer::v1::PredictResponse answer;
  while (stream->Read(&answer)) {
    SourceFrame frame;
    {
      absl::MutexLock lock(&mu);
      if (in_flight.empty()) continue;  // more answers than frames: not per the API
      frame = std::move(in_flight.front());
      in_flight.pop_front();
    }
    ++outcome.answers;
    if (!on_answer(frame, answer)) {
      context->TryCancel();
      break;
    }
  }
  {
    absl::MutexLock lock(&mu);
    reading_done = true;
  }
  writer.join();
  outcome.rpc = stream->Finish();
  return outcome;
}

}  // namespace ferctl
