#include "lib/serving/tenant_tokens.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace fer {
namespace {

TEST(TenantTokensTest, HashIsSha256Hex) {
  // printf %s abc | sha256sum
  EXPECT_EQ(TenantTokens::HashToken("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TenantTokensTest, MapsEachTokenToItsTenant) {
  const std::string text =
      absl::StrCat("# tenants of the test\n", "acme ", TenantTokens::HashToken("acme-secret"),
                   "\n\n", "  globex\t", TenantTokens::HashToken("globex-secret"), "  # current\n",
                   "acme ", TenantTokens::HashToken("acme-next"), "\n");
  absl::StatusOr<TenantTokens> tokens = TenantTokens::Parse(text);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->size(), 3u);
  EXPECT_EQ(*tokens->TenantOfAuthorization("Bearer acme-secret"), "acme");
  EXPECT_EQ(*tokens->TenantOfAuthorization("Bearer acme-next"), "acme");
  EXPECT_EQ(*tokens->TenantOfAuthorization("bearer globex-secret"), "globex");
}

TEST(TenantTokensTest, MissingMalformedAndUnknownTokensAreUnauthenticated) {
  absl::StatusOr<TenantTokens> tokens =
      TenantTokens::Parse(absl::StrCat("acme ", TenantTokens::HashToken("s3cret"), "\n"));
  ASSERT_TRUE(tokens.ok());
  for (const char* header :
       {"", "s3cret", "Basic s3cret", "Bearer ", "Bearer s3cret2", "Bearer S3CRET"}) {
    EXPECT_EQ(tokens->TenantOfAuthorization(header).status().code(),
              absl::StatusCode::kUnauthenticated)
        << header;
  }
}

TEST(TenantTokensTest, BadFilesNameTheLine) {
  const std::string hash = TenantTokens::HashToken("t");
  struct Case {
    std::string text;
    std::string says;
  } cases[] = {
      {"acme\n", "line 1"},
      {absl::StrCat("ok ", hash, "\nbad/tenant ", TenantTokens::HashToken("u")), "line 2"},
      {"acme plaintext-token-here\n", "64 hex digits"},
      {absl::StrCat("a ", hash, "\nb ", hash, "\n"), "listed twice"},
  };
  for (const Case& c : cases) {
    const absl::Status status = TenantTokens::Parse(c.text).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_NE(status.message().find(c.says), std::string::npos) << status;
  }
}

TEST(TenantTokensTest, ReadsFiles) {
  const std::string path = ::testing::TempDir() + "tenant_tokens_test.txt";
  std::ofstream(path) << "acme " << TenantTokens::HashToken("x") << "\n";
  absl::StatusOr<TenantTokens> tokens = TenantTokens::ReadFile(path);
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(*tokens->TenantOfAuthorization("Bearer x"), "acme");
  std::remove(path.c_str());
  EXPECT_EQ(TenantTokens::ReadFile(path).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace fer
