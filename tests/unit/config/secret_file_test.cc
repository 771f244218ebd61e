// Tests for secret files (config/secret_file.cc): the admin token and master password files.
#include "config/secret_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace imapgate::config {
namespace {

const std::string kToken = "0123456789abcdef";  // exactly kMinTokenLength

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/imapgate-secret-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `content` to a file with `mode` and returns its path.
  std::string Write(const std::string& content, mode_t mode = 0600) {
    const std::string path = dir_ + "/secret";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  std::string Error(const std::string& path, SecretKind kind = SecretKind::kToken) {
    auto read = ReadSecretFile(path, kind);
    EXPECT_FALSE(read.ok());
    return read.ok() ? "" : read.status().message();
  }
  std::string dir_;
};

TEST_F(SecretFileTest, ReadsTheTokenAndStripsOneTrailingNewline) {
  auto read = ReadSecretFile(Write(kToken + "\n"), SecretKind::kToken);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ((*read)->view(), kToken);
  read = ReadSecretFile(Write(kToken + "\r\n"), SecretKind::kToken);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ((*read)->view(), kToken);
  read = ReadSecretFile(Write(kToken), SecretKind::kToken);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ((*read)->view(), kToken);
}

TEST_F(SecretFileTest, RefusesAFileOthersOrTheGroupCanAccess) {
  for (mode_t mode : {0640, 0604, 0620, 0610, 0601, 0644}) {
    const std::string message = Error(Write(kToken, mode));
    EXPECT_NE(message.find("accessible by group or others"), std::string::npos) << message;
    EXPECT_NE(message.find("chmod 600"), std::string::npos) << message;
  }
  char mode[8];
  snprintf(mode, sizeof(mode), "%04o", 0640);
  EXPECT_NE(Error(Write(kToken, 0640)).find(mode), std::string::npos);
  EXPECT_TRUE(ReadSecretFile(Write(kToken, 0400), SecretKind::kToken).ok());
}

TEST_F(SecretFileTest, SizeBoundIsFourKiB) {
  // At the bound (4096 bytes including the newline that is stripped) it loads.
  EXPECT_TRUE(ReadSecretFile(Write(std::string(kMaxSecretFileBytes - 1, 'x') + "\n"),
                             SecretKind::kToken)
                  .ok());
  EXPECT_TRUE(ReadSecretFile(Write(std::string(kMaxSecretFileBytes, 'x')), SecretKind::kToken).ok());
  EXPECT_EQ(Error(Write(std::string(kMaxSecretFileBytes + 1, 'x'))),
            "the file is larger than 4KiB");
  EXPECT_EQ(Error(Write(std::string(1 << 20, 'x'))), "the file is larger than 4KiB");
}

TEST_F(SecretFileTest, TokenNeedsSixteenPrintableCharactersWithoutSpaces) {
  EXPECT_EQ(Error(Write(kToken.substr(1) + "\n")),
            "the token must be at least 16 characters long, got 15");
  EXPECT_EQ(Error(Write("")), "the token must be at least 16 characters long, got 0");
  EXPECT_EQ(Error(Write("01234567 9abcdefgh")),
            "the token must be printable ASCII without spaces; bad byte at position 9");
  EXPECT_EQ(Error(Write(kToken + "\n\n")),
            "the token must be printable ASCII without spaces; bad byte at position 17");
  EXPECT_EQ(Error(Write(kToken + "\xc3\xa9")),
            "the token must be printable ASCII without spaces; bad byte at position 17");
  EXPECT_EQ(Error(Write(kToken + "\x7f")),
            "the token must be printable ASCII without spaces; bad byte at position 17");
}

TEST_F(SecretFileTest, PasswordAllowsSpacesAndUtf8ButNoControlCharacters) {
  auto read = ReadSecretFile(Write("p w \xc3\xa9\n"), SecretKind::kPassword);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ((*read)->view(), "p w \xc3\xa9");
  EXPECT_EQ(Error(Write("\n"), SecretKind::kPassword), "the file is empty");
  EXPECT_EQ(Error(Write("ab\tc"), SecretKind::kPassword),
            "the password must not contain control characters; bad byte at position 3");
  EXPECT_EQ(Error(Write(std::string("ab\0c", 4)), SecretKind::kPassword),
            "the password must not contain control characters; bad byte at position 3");
}

TEST_F(SecretFileTest, ErrorsNeverHoldTheSecret) {
  const std::string secret = "Sup3rS3cretT0ken with-a-space";
  const std::string message = Error(Write(secret));
  EXPECT_EQ(message.find("Sup3r"), std::string::npos) << message;
  EXPECT_EQ(Error(Write(secret, 0644)).find("Sup3r"), std::string::npos);
}

TEST_F(SecretFileTest, MissingFileDirectoryAndFifoAreRefused) {
  EXPECT_EQ(Error(dir_ + "/none"), "cannot read file: No such file or directory");
  EXPECT_EQ(Error(dir_), "cannot read file: not a regular file");
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(Error(fifo), "cannot read file: not a regular file");  // and no hang
}

}  // namespace
}  // namespace imapgate::config
