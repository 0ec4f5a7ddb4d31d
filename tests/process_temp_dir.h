#ifndef FERSERVE_TESTS_PROCESS_TEMP_DIR_H_
#define FERSERVE_TESTS_PROCESS_TEMP_DIR_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

namespace fer::testing {

// A folder of this test process's own under the test temp folder, made on
// first use (mkdtemp), ending in '/'. Paths in it were never used before:
// paths named after the process id were, since ids come round again
// (pid_max is often 32768), and a server's stale log or store from an
// earlier process would have been read as this one's.
inline const std::string& ProcessTempDir() {
  static const std::string dir = [] {
    std::string path = std::string(::testing::TempDir()) + "ferserve_test_XXXXXX";
    if (mkdtemp(path.data()) == nullptr) abort();
    return path + "/";
  }();
  return dir;
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_PROCESS_TEMP_DIR_H_
