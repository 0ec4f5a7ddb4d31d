#ifndef FERSERVE_LIB_FILES_FILE_CONTENTS_H_
#define FERSERVE_LIB_FILES_FILE_CONTENTS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace fer {

// The whole file at `path`. A failure carries the code of the system's error
// (NotFound for a missing file, PermissionDenied, FailedPrecondition for a
// directory ...) and says what could not be read: "cannot read <what> <path>:
// <the system's reason>", `what` naming the file's role ("the model config").
absl::StatusOr<std::string> ReadFileContents(const std::string& path, absl::string_view what = "");

// Replaces the file at `path` with `contents` so that a reader (or a crash)
// sees the old file or the new one, never a part of either: the bytes go to a
// new file beside it, are flushed to disk, and that file is renamed over
// `path`. The new file's permissions follow the umask, as a plain create's
// do (a symbolic link at `path` is replaced, not followed). On failure `path`
// is left as it was and no temporary file remains. A `path` that names
// something other than a regular file (a folder, a device such as
// /dev/stdout, a pipe) is refused with FailedPrecondition: a rename would
// put a file in its place.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

}  // namespace fer

#endif  // FERSERVE_LIB_FILES_FILE_CONTENTS_H_
