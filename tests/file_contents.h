#ifndef FERSERVE_TESTS_FILE_CONTENTS_H_
#define FERSERVE_TESTS_FILE_CONTENTS_H_

#include <fstream>
#include <iterator>
#include <string>

namespace fer::testing {

// The whole content of a file, byte for byte; empty when it cannot be read.
inline std::string ReadFileContents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_FILE_CONTENTS_H_
