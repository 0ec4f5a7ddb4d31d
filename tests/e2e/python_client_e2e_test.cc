// End-to-end: the Python client example (client/python/fer_client.py, on
// Debian's python3-grpcio with stubs generated at build time) against the
// real ferserve, on real frames; its answers must match the Node.js face-api
// reference on the same pixels.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include "tests/child_process.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/free_port.h"
#include "tests/parity/reference_outputs.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

const char* const kFrames[] = {"franck_000000.png", "franck_001000.png", "franck_002000.png",
                               "franck_003000.png", "franck_004000.png"};

std::vector<std::string> ClientCommand(int port) {
  std::vector<std::string> argv = {
      "/usr/bin/python3", std::string(FERSERVE_SOURCE_DIR) + "/client/python/fer_client.py",
      "--address=127.0.0.1:" + std::to_string(port),
      "--stubs=" + std::string(FERSERVE_BINARY_DIR) + "/client/python"};
  for (const char* frame : kFrames) argv.push_back(testing::FramesDir() + "/" + frame);
  return argv;
}

TEST(PythonClientE2eTest, PrintsTheTopLabelOfEachFrame) {
  testing::FerserveProcess server;
  ASSERT_TRUE(server.ok()) << server.Log();
  const testing::ChildResult r = testing::RunChildProcess(ClientCommand(server.port()));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("labels: neutral happy sad angry fearful disgusted surprised"),
            std::string::npos)
      << r.out;

  const testing::ReferenceOutputs reference = testing::LoadReferenceOutputs();
  for (const char* frame : kFrames) {
    const std::vector<testing::ReferenceFace>& faces = reference.images.at(frame);
    ASSERT_EQ(faces.size(), 1u) << frame;
    const int top = faces[0].TopLabel();
    std::smatch m;
    const std::regex line(std::string(frame) + R"(  ([a-z]+)  ([01]\.\d{3})  generic)");
    ASSERT_TRUE(std::regex_search(r.out, m, line)) << frame << "\n" << r.out;
    EXPECT_EQ(m[1], reference.labels[top]) << frame;
    EXPECT_NEAR(std::stof(m[2]), faces[0].expressions[top], 2e-3) << frame;
  }
}

TEST(PythonClientE2eTest, ServerNotRunningIsAOneLineError) {
  std::vector<std::string> argv = ClientCommand(testing::FreePort());
  argv.insert(argv.begin() + 2, "--deadline=5");
  const testing::ChildResult r = testing::RunChildProcess(argv);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("fer_client: UNAVAILABLE"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fer
