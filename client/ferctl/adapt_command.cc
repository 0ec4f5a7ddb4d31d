// ferctl adapt --user U: runs PFT adaptation on the user's enrolled features
// and prints its progress (step, loss terms) live, then the new profile
// version and the quality report.
#include <cstdio>
#include <map>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "client/ferctl/commands.h"
#include "client/ferctl/exit_codes.h"
#include "client/ferctl/quality_report.h"

ABSL_FLAG(uint32_t, max_steps, 0, "adapt: optimisation steps; 0 means the server default.");
ABSL_FLAG(uint64_t, seed, 0, "adapt: seed of a deterministic run; 0 means the server default.");

namespace ferctl {

int RunAdapt(const Connection& connection, const Args& args) {
  if (!args.empty()) return Fail(kUsage, "adapt takes no positional argument: " + args[0]);
  std::string user;
  if (!RequireUser("adapt", &user)) return kUsage;
  fer::v1::AdaptRequest request;
  request.set_user_id(user);
  request.set_max_steps(absl::GetFlag(FLAGS_max_steps));
  request.set_seed(absl::GetFlag(FLAGS_seed));

  auto stub = connection.NewStub();
  auto context = connection.NewContext(kNoDeadline);
  auto reader = stub->Adapt(context.get(), request);
  std::printf("adapting %s\n", user.c_str());
  std::fflush(stdout);
  fer::v1::AdaptProgress progress;
  fer::v1::AdaptProgress last;
  bool done = false;
  while (reader->Read(&progress)) {
    if (progress.done()) {
      last = progress;
      done = true;
      continue;
    }
    std::string line = absl::StrFormat("step %4u/%-4u loss %.5f", progress.step(),
                                       progress.total_steps(), progress.loss());
    // Sorted for a stable column order.
    const std::map<std::string, float> terms(progress.loss_terms().begin(),
                                             progress.loss_terms().end());
    for (const auto& [name, value] : terms) absl::StrAppendFormat(&line, "  %s %.5f", name, value);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return FailCall("adapt " + user, status, connection.address());
  if (!done) return Fail(kServerError, "adapt " + user + ": the server ended without a result");
  std::printf("%s: profile version %llu\n", user.c_str(),
              static_cast<unsigned long long>(last.profile_version()));
  PrintQualityReport(last.report());
  return kOk;
}

}  // namespace ferctl
