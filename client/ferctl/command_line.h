#ifndef FERSERVE_CLIENT_FERCTL_COMMAND_LINE_H_
#define FERSERVE_CLIENT_FERCTL_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ferctl {

// Sets the flags given on the command line (--name=value, --name value,
// --bool, --nobool; "--" ends the flags) and returns the other words in
// order. InvalidArgument, with a one-line message, for an unknown flag or a
// bad value: unlike absl::ParseCommandLine, which exits with status 1.
absl::StatusOr<std::vector<std::string>> ParseFlags(int argc, char** argv);

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_COMMAND_LINE_H_
