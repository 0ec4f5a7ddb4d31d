#ifndef FERSERVE_CLIENT_FER_TRAIN_COMMANDS_H_
#define FERSERVE_CLIENT_FER_TRAIN_COMMANDS_H_

#include "absl/status/status.h"

namespace fer::train {

// What a subcommand ended with; usage_error marks a bad flag value (exit 2).
struct CommandResult {
  absl::Status status;
  bool usage_error = false;
};

CommandResult Extract();
CommandResult PretrainBundle();
CommandResult AdaptUser();
CommandResult Evaluate();
CommandResult Info();

}  // namespace fer::train

#endif  // FERSERVE_CLIENT_FER_TRAIN_COMMANDS_H_
