// ferctl predict (--video F | --images DIR | --camera N) [--user U]: streams
// frames through StreamPredict and prints one table row per answer as it
// arrives. --annotate OUT.mp4 writes the frames with faces, landmarks and
// class bars drawn on them; --plot OUT.png draws the class probabilities
// over time; --compare also runs the generic model on the same frames and
// plots both.
#include <cstdio>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "client/ferctl/commands.h"
#include "client/ferctl/exit_codes.h"
#include "client/ferctl/frame_annotator.h"
#include "client/ferctl/predict_stream.h"
#include "client/ferctl/prediction_table.h"
#include "client/ferctl/progress_bar.h"
#include "client/ferctl/timeline_plot.h"

ABSL_FLAG(std::string, annotate, "", "predict: write an annotated MP4 video to this path.");
ABSL_FLAG(std::string, plot, "", "predict: write a PNG plot of class probabilities over time.");
ABSL_FLAG(bool, compare, false,
          "predict: also run the generic model on the same frames (needs --user); --plot then "
          "draws both.");
ABSL_FLAG(bool, quiet, false, "predict: no per-frame table, only the summary.");
ABSL_FLAG(uint32_t, detection_interval, 0,
          "predict: detect faces on every n-th frame and track them in between (1..30; 1 "
          "detects on every frame); 0 means the server default.");

namespace ferctl {
namespace {

// Checks a finished run; kOk or the failure's exit status (printed).
int RunFailure(const PredictOutcome& outcome, const Connection& connection) {
  if (!outcome.source.ok()) {
    return Fail(kInputError, "predict: " + std::string(outcome.source.message()));
  }
  if (!outcome.rpc.ok()) return FailCall("predict", outcome.rpc, connection.address());
  return kOk;
}

// The model's class labels, from GetModelInfo.
grpc::Status FetchLabels(const Connection& connection, std::vector<std::string>* labels) {
  auto stub = connection.NewStub();
  auto context = connection.NewContext(kUnaryDeadlineSeconds);
  fer::v1::ModelInfo info;
  const grpc::Status status = stub->GetModelInfo(context.get(), {}, &info);
  if (status.ok()) labels->assign(info.labels().begin(), info.labels().end());
  return status;
}

// --compare: runs the generic model on the frames first and appends its
// timeline; kOk or the failure's exit status (printed).
int RunGenericPass(const Connection& connection, const std::vector<std::string>& labels,
                   std::vector<Timeline>* timelines) {
  absl::StatusOr<std::unique_ptr<FrameSource>> source = FrameSource::FromFlags();
  if (!source.ok()) return FailOpen("predict", source.status());
  Timeline generic("generic");
  PredictionTable counts(labels, stdout);
  ProgressBar bar("generic", (*source)->expected_frames());
  int64_t answered = 0;
  fer::v1::StreamConfig config;
  config.set_detection_interval(absl::GetFlag(FLAGS_detection_interval));
  const PredictOutcome outcome =
      RunPredictStream(connection, **source, config,
                       [&](const SourceFrame& frame, const fer::v1::PredictResponse& answer) {
                         generic.Add(frame.timestamp_us / 1e6, answer);
                         counts.Count(answer);
                         bar.Update(++answered);
                         return true;
                       });
  bar.Finish();
  if (const int failure = RunFailure(outcome, connection); failure != kOk) return failure;
  std::printf("generic run: %s\n", counts.Summary().c_str());
  timelines->push_back(std::move(generic));
  return kOk;
}

// Closes --annotate's video (when there is one) and draws --plot's image
// (when asked); kOk or the failure's exit status (printed).
int WriteOutputs(AnnotatedVideoWriter* video, const std::string& annotate,
                 const std::vector<Timeline>& timelines, const std::string& plot) {
  if (video != nullptr) {
    const absl::StatusOr<int> frames = video->Close();
    if (!frames.ok())
      return Fail(kInputError, "predict: " + std::string(frames.status().message()));
    std::printf("wrote %s (%d frames)\n", annotate.c_str(), *frames);
  }
  if (!plot.empty()) {
    if (const absl::Status s = WriteTimelinePlot(timelines, plot); !s.ok()) {
      return Fail(kInputError, "predict: " + std::string(s.message()));
    }
    std::printf("wrote %s\n", plot.c_str());
  }
  return kOk;
}

}  // namespace

int RunPredict(const Connection& connection, const Args& args) {
  if (!args.empty()) return Fail(kUsage, "predict takes no positional argument: " + args[0]);
  const std::string user = absl::GetFlag(FLAGS_user);
  const std::string annotate = absl::GetFlag(FLAGS_annotate);
  const bool compare = absl::GetFlag(FLAGS_compare);
  if (compare && user.empty()) return Fail(kUsage, "predict: --compare needs --user");

  std::vector<std::string> labels;
  if (const grpc::Status status = FetchLabels(connection, &labels); !status.ok()) {
    return FailCall("predict", status, connection.address());
  }
  std::vector<Timeline> timelines;
  if (compare) {
    if (const int failure = RunGenericPass(connection, labels, &timelines); failure != kOk) {
      return failure;
    }
  }

  absl::StatusOr<std::unique_ptr<FrameSource>> source = FrameSource::FromFlags();
  if (!source.ok()) return FailOpen("predict", source.status());
  std::printf("predicting on %s%s\n", (*source)->description().c_str(),
              user.empty() ? "" : (" for user " + user).c_str());
  fer::v1::StreamConfig config;
  config.set_user_id(user);
  config.set_include_landmarks(!annotate.empty());
  config.set_detection_interval(absl::GetFlag(FLAGS_detection_interval));
  std::unique_ptr<AnnotatedVideoWriter> video;
  if (!annotate.empty()) video = std::make_unique<AnnotatedVideoWriter>(annotate, (*source)->fps());
  absl::Status video_status;
  Timeline timeline("");
  PredictionTable table(labels, stdout);
  if (!absl::GetFlag(FLAGS_quiet)) table.PrintHeader();
  std::string note;
  const PredictOutcome outcome = RunPredictStream(
      connection, **source, config,
      [&](const SourceFrame& frame, const fer::v1::PredictResponse& answer) {
        const double t_s = frame.timestamp_us / 1e6;
        if (absl::GetFlag(FLAGS_quiet)) {
          table.Count(answer);
        } else {
          table.PrintRow(t_s, answer);
        }
        if (note.empty() && !answer.personalization_note().empty()) {
          note = answer.personalization_note();
        }
        timeline.Add(t_s, answer);
        timeline.set_title(user.empty() ? ModelName(answer)
                                        : ModelName(answer) + " (user " + user + ")");
        if (video != nullptr) video_status = video->Add(frame, answer);
        return video_status.ok();
      });
  if (!video_status.ok())
    return Fail(kInputError, "predict: " + std::string(video_status.message()));
  if (const int failure = RunFailure(outcome, connection); failure != kOk) return failure;
  if (!note.empty()) std::printf("note: %s\n", note.c_str());
  std::printf("%s\n", table.Summary().c_str());
  timelines.push_back(std::move(timeline));
  return WriteOutputs(video.get(), annotate, timelines, absl::GetFlag(FLAGS_plot));
}

}  // namespace ferctl
