// Tests for admin::AdminToken (token file bounds and permissions, constant-time match) and
// admin::BearerToken.

#include "admin/admin_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace imapgate::admin {
namespace {

constexpr std::string_view kTestToken = "0123456789abcdef0123456789abcdef";

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/imapgate-token-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string Write(const std::string& contents, mode_t mode = 0600) {
    path_ = dir_ + "/token";
    unlink(path_.c_str());
    std::ofstream(path_, std::ios::binary) << contents;
    chmod(path_.c_str(), mode);
    return path_;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(TokenFileTest, ReadsTheFirstLineTrimmed) {
  auto t = AdminToken::FromFile(Write(std::string(kTestToken) + "\n"));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_TRUE(t->configured());
  EXPECT_TRUE(t->Matches(kTestToken));
  auto crlf = AdminToken::FromFile(Write("  " + std::string(kTestToken) + " \r\n\n"));
  ASSERT_TRUE(crlf.ok()) << crlf.status().message();
  EXPECT_TRUE(crlf->Matches(kTestToken));
}

TEST_F(TokenFileTest, GroupReadableIsAccepted) {
  EXPECT_TRUE(AdminToken::FromFile(Write(std::string(kTestToken), 0640)).ok());
}

TEST_F(TokenFileTest, WorldReadableOrWritableIsRefused) {
  auto t = AdminToken::FromFile(Write(std::string(kTestToken), 0644));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("chmod 600"), std::string::npos);
  EXPECT_FALSE(AdminToken::FromFile(Write(std::string(kTestToken), 0602)).ok());
}

TEST_F(TokenFileTest, MissingFileNamesThePath) {
  auto t = AdminToken::FromFile(dir_ + "/absent");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find(dir_ + "/absent"), std::string::npos);
}

TEST_F(TokenFileTest, DirectoryIsRefused) { EXPECT_FALSE(AdminToken::FromFile(dir_).ok()); }

TEST_F(TokenFileTest, EmptyFileIsRefused) { EXPECT_FALSE(AdminToken::FromFile(Write("")).ok()); }

TEST_F(TokenFileTest, MoreThanOneLineIsRefused) {
  EXPECT_FALSE(AdminToken::FromFile(Write(std::string(kTestToken) + "\nsecond\n")).ok());
}

TEST_F(TokenFileTest, SizeBound) {
  const std::string longest(AdminToken::kMaxTokenBytes, 'x');
  EXPECT_TRUE(AdminToken::FromFile(Write(longest + "\n")).ok());
  auto t = AdminToken::FromFile(Write(longest + "x"));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("longer than"), std::string::npos);
  EXPECT_FALSE(AdminToken::FromFile(Write(std::string(1 << 20, 'x'))).ok());
}

TEST_F(TokenFileTest, ErrorsNeverContainTheToken) {
  const std::string secret = "s3cr3t-s3cr3t-s3cr3t with space";
  auto t = AdminToken::FromFile(Write(secret));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message().find("s3cr3t"), std::string::npos) << t.status().message();
}

TEST(AdminTokenTest, FromStringBounds) {
  EXPECT_TRUE(AdminToken::FromString(std::string(AdminToken::kMinTokenBytes, 'a')).ok());
  EXPECT_FALSE(AdminToken::FromString(std::string(AdminToken::kMinTokenBytes - 1, 'a')).ok());
  EXPECT_TRUE(AdminToken::FromString(std::string(AdminToken::kMaxTokenBytes, 'a')).ok());
  EXPECT_FALSE(AdminToken::FromString(std::string(AdminToken::kMaxTokenBytes + 1, 'a')).ok());
  EXPECT_FALSE(AdminToken::FromString("0123456789abcdef 0123").ok());
  EXPECT_FALSE(AdminToken::FromString("0123456789abcdef\x01").ok());
  EXPECT_FALSE(AdminToken::FromString("0123456789abcdef\xc3\xa9").ok());
}

TEST(AdminTokenTest, MatchesOnlyTheToken) {
  auto t = AdminToken::FromString(kTestToken);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->Matches(kTestToken));
  EXPECT_FALSE(t->Matches("0123456789abcdef0123456789abcdeX"));  // same length
  EXPECT_FALSE(t->Matches("X123456789abcdef0123456789abcdef"));
  EXPECT_FALSE(t->Matches("0123456789abcdef0123456789abcde"));
  EXPECT_FALSE(t->Matches("0123456789abcdef0123456789abcdef0"));
  EXPECT_FALSE(t->Matches(""));
}

TEST(AdminTokenTest, NoneConfiguredMatchesNothing) {
  AdminToken none;
  EXPECT_FALSE(none.configured());
  EXPECT_FALSE(none.Matches(""));
  EXPECT_FALSE(none.Matches(kTestToken));
}

TEST(BearerTokenTest, ParsesTheScheme) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BeArEr   abc  "), "abc");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken("Bearerabc"), "");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken(""), "");
  EXPECT_EQ(BearerToken("Bearer\tabc"), "");
}

}  // namespace
}  // namespace imapgate::admin
