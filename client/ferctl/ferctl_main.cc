// ferctl: command-line client of ferserve. See `ferctl --help`.
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "client/ferctl/command_line.h"
#include "client/ferctl/commands.h"
#include "client/ferctl/exit_codes.h"

ABSL_FLAG(std::string, user, "", "User id (1..128 of [A-Za-z0-9._@+=:-]).");

namespace ferctl {

bool RequireUser(const char* command, std::string* user) {
  *user = absl::GetFlag(FLAGS_user);
  if (user->empty()) {
    Fail(kUsage, std::string(command) + ": --user is required");
    return false;
  }
  return true;
}

namespace {

constexpr char kUsageText[] = R"(command-line client of ferserve.

usage: ferctl [global flags] COMMAND [flags]

commands:
  enroll --user U (--video F [--start S] [--end E] [--fps R] | --images DIR | --camera N)
      send a user's neutral frames; progress bar, then the server's verdict per frame
  adapt --user U [--max_steps N] [--seed S]
      personalize the user's translator; live step/loss, then the quality report
  predict (--video F [--start S] [--end E] [--fps R] | --images DIR | --camera N)
          [--user U [--compare]] [--annotate OUT.mp4] [--plot OUT.png] [--quiet]
      per-frame predictions as a live table; annotated video; probability timeline
  profile get --user U      a user's profile metadata
  profile delete --user U   erase everything stored for a user
  health [--service S]      gRPC health check
  model info                the served model

global flags: --address HOST:PORT (default 127.0.0.1:50051),
  --tls, --tls_ca FILE, --tls_cert FILE, --tls_key FILE, --tls_server_name NAME,
  --token TOKEN (sent as 'authorization: Bearer TOKEN'),
  --deadline DURATION (e.g. 30s; default 10s for unary calls, none for streams)

)";

int Dispatch(const std::vector<std::string>& words) {
  using Command = int (*)(const Connection&, const Args&);
  static const std::map<std::string, Command> kCommands = {
      {"enroll", RunEnroll},   {"adapt", RunAdapt},   {"predict", RunPredict},
      {"profile", RunProfile}, {"health", RunHealth}, {"model", RunModelInfo},
  };
  if (words.empty()) return Fail(kUsage, "no command given (see ferctl --help)");
  const auto it = kCommands.find(words[0]);
  if (it == kCommands.end()) {
    return Fail(kUsage, "unknown command '" + words[0] + "' (see ferctl --help)");
  }
  absl::StatusOr<Connection> connection = Connection::FromFlags();
  if (!connection.ok()) {
    return Fail(absl::IsInvalidArgument(connection.status()) ? kUsage : kInputError,
                std::string(connection.status().message()));
  }
  return it->second(*connection, Args(words.begin() + 1, words.end()));
}

// ferctl's own --help: the usage text, every ferctl flag with its default,
// and the exit statuses (absl's --help would exit with 1).
void PrintHelp() {
  std::string text = kUsageText;
  text += "flags:\n";
  std::map<std::string, std::string> lines;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::StrContains(flag->Filename(), "client/ferctl/")) continue;
    lines[std::string(name)] = absl::StrFormat("  --%s (default '%s')\n      %s\n", name,
                                               flag->DefaultValue(), flag->Help());
  }
  for (const auto& [name, line] : lines) text += line;
  text += "\n";
  text += ExitCodeTable();
  std::fputs(text.c_str(), stdout);
}

}  // namespace
}  // namespace ferctl

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help" || arg == "help") {
      ferctl::PrintHelp();
      return ferctl::kOk;
    }
  }
  absl::StatusOr<std::vector<std::string>> words = ferctl::ParseFlags(argc, argv);
  if (!words.ok()) {
    return ferctl::Fail(ferctl::kUsage,
                        std::string(words.status().message()) + " (see ferctl --help)");
  }
  return ferctl::Dispatch(*words);
}
