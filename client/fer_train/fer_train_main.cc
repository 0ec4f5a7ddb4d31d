// fer-train: PFT pre-training, adaptation and evaluation on a labelled face
// dataset (lib/pft/face_dataset.h for the layout).
//
//   fer-train extract  --root DIR [--segments CSV]
//   fer-train pretrain --root DIR [--segments CSV] --out BUNDLE [--pairing ...]
//   fer-train adapt    --bundle BUNDLE --neutral VIDEO|DIR [--start_s --end_s]
//   fer-train adapt    --bundle BUNDLE --root DIR --segments CSV --subject NAME
//   fer-train eval     --root DIR [--segments CSV] [--markdown_out F] [--csv_out F]
//   fer-train info     [--bundle BUNDLE]
//
// Exit codes: 0 success, 1 a failure while running, 2 bad usage.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "client/fer_train/commands.h"
#include "lib/model/blas_kernels.h"

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "fer-train <extract|pretrain|adapt|eval|info> [flags]: PFT on a labelled face dataset "
      "(ROOT/<subject>/<label>/<frame>.jpg|png, or ROOT/<subject>/<video>.mp4 with a "
      "video,start_s,end_s,label CSV).");
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() != 2) {
    std::fprintf(stderr,
                 "fer-train: expected one subcommand (extract, pretrain, adapt, eval, "
                 "info), see --help\n");
    return 2;
  }
  if (const std::string blas = fer::MatchBlasKernelsToCpu(); !blas.empty()) {
    std::fprintf(stderr, "fer-train: %s\n", blas.c_str());
  }
  const std::string command = args[1];
  fer::train::CommandResult result;
  if (command == "extract") {
    result = fer::train::Extract();
  } else if (command == "pretrain") {
    result = fer::train::PretrainBundle();
  } else if (command == "adapt") {
    result = fer::train::AdaptUser();
  } else if (command == "eval") {
    result = fer::train::Evaluate();
  } else if (command == "info") {
    result = fer::train::Info();
  } else {
    std::fprintf(stderr,
                 "fer-train: unknown subcommand '%s' (extract, pretrain, adapt, eval, "
                 "info)\n",
                 command.c_str());
    return 2;
  }
  if (!result.status.ok()) {
    std::fprintf(stderr, "fer-train %s: %s\n", command.c_str(),
                 std::string(result.status.message()).c_str());
    return result.usage_error ? 2 : 1;
  }
  return 0;
}
