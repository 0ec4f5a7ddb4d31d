#ifndef FERSERVE_TESTS_FILE_CONTENTS_H_
#define FERSERVE_TESTS_FILE_CONTENTS_H_

#include <string>

#include "lib/files/file_contents.h"

namespace fer::testing {

// The whole content of a file, byte for byte; empty when it cannot be read.
inline std::string ReadFileContents(const std::string& path) {
  return fer::ReadFileContents(path).value_or("");
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_FILE_CONTENTS_H_
