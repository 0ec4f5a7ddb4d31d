#ifndef FERSERVE_CLIENT_FERCTL_COMMANDS_H_
#define FERSERVE_CLIENT_FERCTL_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "client/ferctl/connection.h"

ABSL_DECLARE_FLAG(std::string, user);

namespace ferctl {

// Each command reads its own flags, talks to ferserve through `connection`,
// prints its results on stdout, and returns an exit status (exit_codes.h).
// `args` are the positional words after the command's name.
using Args = std::vector<std::string>;

int RunEnroll(const Connection& connection, const Args& args);
int RunAdapt(const Connection& connection, const Args& args);
int RunPredict(const Connection& connection, const Args& args);
int RunProfile(const Connection& connection, const Args& args);
int RunHealth(const Connection& connection, const Args& args);
int RunModelInfo(const Connection& connection, const Args& args);

// The value of --user, or a usage failure (printed) when it is empty.
bool RequireUser(const char* command, std::string* user);

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_COMMANDS_H_
