// ferctl enroll --user U (--video F [--start S --end E --fps R] | --images DIR
// | --camera N): streams neutral frames to EnrollNeutral with a progress bar,
// then prints the server's verdict for each rejected or flagged frame.
#include <cstdio>
#include <map>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/ferctl/commands.h"
#include "client/ferctl/exit_codes.h"
#include "client/ferctl/frame_message.h"
#include "client/ferctl/frame_source.h"
#include "client/ferctl/progress_bar.h"

namespace ferctl {
namespace {

using fer::v1::FrameVerdict;

// The server lists an accepted frame only when it carries a warning, so such a
// row is labelled by what it means rather than by the bare ACCEPTED reason.
std::string VerdictLabel(const FrameVerdict& v) {
  return v.reason() == FrameVerdict::ACCEPTED ? "ACCEPTED_WITH_WARNING"
                                              : FrameVerdict::Reason_Name(v.reason());
}

void PrintVerdicts(const fer::v1::EnrollResponse& response,
                   const std::vector<std::string>& origins) {
  if (response.verdicts().empty()) return;
  std::printf("%6s  %-28s %-21s %9s  %s\n", "frame", "source", "verdict", "neutral_p", "detail");
  for (const FrameVerdict& v : response.verdicts()) {
    const std::string origin = v.frame_index() < origins.size() ? origins[v.frame_index()] : "?";
    std::printf("%6llu  %-28s %-21s %9.3f  %s\n", static_cast<unsigned long long>(v.frame_index()),
                origin.c_str(), VerdictLabel(v).c_str(), v.neutral_probability(),
                v.detail().c_str());
  }
}

std::string ReasonCounts(const fer::v1::EnrollResponse& response) {
  std::map<std::string, int> counts;
  for (const FrameVerdict& v : response.verdicts()) {
    ++counts[VerdictLabel(v)];
  }
  return absl::StrJoin(counts, ", ", absl::PairFormatter(" "));
}

}  // namespace

int RunEnroll(const Connection& connection, const Args& args) {
  if (!args.empty()) return Fail(kUsage, "enroll takes no positional argument: " + args[0]);
  std::string user;
  if (!RequireUser("enroll", &user)) return kUsage;
  absl::StatusOr<std::unique_ptr<FrameSource>> source = FrameSource::FromFlags();
  if (!source.ok()) {
    return FailOpen("enroll", source.status());
  }
  std::printf("enrolling %s from %s\n", user.c_str(), (*source)->description().c_str());
  std::fflush(stdout);

  auto stub = connection.NewStub();
  auto context = connection.NewContext(kNoDeadline);
  fer::v1::EnrollResponse response;
  auto writer = stub->EnrollNeutral(context.get(), &response);
  ProgressBar bar("enroll", (*source)->expected_frames());
  std::vector<std::string> origins;
  absl::Status read_status;
  while (true) {
    absl::StatusOr<std::optional<SourceFrame>> frame = (*source)->Next();
    if (!frame.ok()) {
      read_status = frame.status();
      context->TryCancel();
      break;
    }
    if (!frame->has_value()) break;
    fer::v1::EnrollRequest request;
    request.set_user_id(user);
    ToFrameMessage(**frame, request.mutable_frame());
    origins.push_back((*frame)->origin);
    if (!writer->Write(request)) break;
    bar.Update(static_cast<int64_t>(origins.size()), "frames sent");
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  bar.Finish();
  if (!read_status.ok()) return Fail(kInputError, "enroll: " + std::string(read_status.message()));
  if (!status.ok()) return FailCall("enroll " + user, status, connection.address());

  PrintVerdicts(response, origins);
  std::printf("%s: %u accepted, %u rejected of %zu frames; %u neutral features enrolled\n",
              response.user_id().c_str(), response.accepted(), response.rejected(), origins.size(),
              response.enrolled_features());
  if (!response.verdicts().empty()) std::printf("verdicts: %s\n", ReasonCounts(response).c_str());
  if (response.accepted() == 0) {
    return Fail(kNothingAccepted, "enroll: the server accepted none of the frames");
  }
  return kOk;
}

}  // namespace ferctl
