#include "lib/serving/tenant_tokens_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/files/file_contents.h"
#include "tests/log_lines.h"
#include "tests/poll_until.h"
#include "tests/process_temp_dir.h"

namespace fer {
namespace {

std::string Line(const std::string& tenant, const std::string& token) {
  return absl::StrCat(tenant, " ", TenantTokens::HashToken(token), "\n");
}

using testing::LogLines;

bool Authenticates(const TenantTokensFile& file, const std::string& token,
                   const std::string& tenant) {
  absl::StatusOr<std::string> found = file.current()->TenantOfAuthorization("Bearer " + token);
  return found.ok() && *found == tenant;
}

// Polls `condition` for up to 5 s (the reload interval below is 20 ms).
bool Eventually(const std::function<bool()>& condition) {
  return testing::PollUntil(condition, std::chrono::seconds(5), std::chrono::milliseconds(10));
}

class TenantTokensFileTest : public ::testing::Test {
 protected:
  void Write(const std::string& text) { ASSERT_TRUE(WriteFileAtomically(path_, text).ok()); }
  const std::string path_ = testing::ProcessTempDir() + "tokens_" +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name();
};

TEST_F(TenantTokensFileTest, AMissingOrMalformedFileFailsTheOpen) {
  EXPECT_EQ(TenantTokensFile::Open(path_, absl::Milliseconds(20), nullptr).status().code(),
            absl::StatusCode::kNotFound);
  Write("acme not-a-hash\n");
  EXPECT_EQ(TenantTokensFile::Open(path_, absl::Milliseconds(20), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TenantTokensFileTest, TokensAreAddedAndRevokedWhileOpen) {
  Write(Line("acme", "acme-token"));
  LogLines log;
  absl::StatusOr<std::unique_ptr<TenantTokensFile>> file =
      TenantTokensFile::Open(path_, absl::Milliseconds(20), log.sink());
  ASSERT_TRUE(file.ok()) << file.status();
  const TenantTokensFile& tokens = **file;
  EXPECT_TRUE(Authenticates(tokens, "acme-token", "acme"));
  EXPECT_FALSE(Authenticates(tokens, "globex-token", "globex"));

  Write(Line("acme", "acme-token") + Line("globex", "globex-token"));
  EXPECT_TRUE(Eventually([&] { return Authenticates(tokens, "globex-token", "globex"); }));
  EXPECT_TRUE(Authenticates(tokens, "acme-token", "acme"));
  EXPECT_TRUE(Eventually(
      [&] { return log.Count(absl::StrCat("tokens reloaded from ", path_, ": 2 token(s)")); }));

  Write(Line("globex", "globex-token"));
  EXPECT_TRUE(Eventually([&] { return !Authenticates(tokens, "acme-token", "acme"); }));
  EXPECT_TRUE(Authenticates(tokens, "globex-token", "globex"));
  // Reads that find the same tokens are not news.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(log.Count("tokens reloaded"), 2);
}

TEST_F(TenantTokensFileTest, AFileThatCannotBeReadOrParsedKeepsThePreviousTokens) {
  Write(Line("acme", "acme-token"));
  LogLines log;
  absl::StatusOr<std::unique_ptr<TenantTokensFile>> file =
      TenantTokensFile::Open(path_, absl::Milliseconds(20), log.sink());
  ASSERT_TRUE(file.ok()) << file.status();

  Write(Line("acme", "acme-token") + "globex\n");
  EXPECT_TRUE(Eventually([&] {
    return log.Count(absl::StrCat("tokens not reloaded, keeping the previous ones: ", path_,
                                  ": tokens line 2")) == 1;
  }));
  // Said once, not at every read.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(log.Count("tokens not reloaded"), 1);
  EXPECT_TRUE(Authenticates(**file, "acme-token", "acme"));

  std::remove(path_.c_str());
  EXPECT_TRUE(Eventually([&] {
    return log.Count(absl::StrCat("tokens not reloaded, keeping the previous ones: cannot read "
                                  "the tokens file ",
                                  path_, ": No such file or directory")) == 1;
  }));
  EXPECT_TRUE(Authenticates(**file, "acme-token", "acme"));
}

TEST_F(TenantTokensFileTest, AZeroIntervalReadsTheFileOnce) {
  Write(Line("acme", "acme-token"));
  absl::StatusOr<std::unique_ptr<TenantTokensFile>> file =
      TenantTokensFile::Open(path_, absl::ZeroDuration(), nullptr);
  ASSERT_TRUE(file.ok()) << file.status();
  Write(Line("globex", "globex-token"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(Authenticates(**file, "acme-token", "acme"));
  EXPECT_FALSE(Authenticates(**file, "globex-token", "globex"));
}

}  // namespace
}  // namespace fer
