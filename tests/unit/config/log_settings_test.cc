// Tests for the top-level log_format and log_file keys: defaults, values, FILE:LINE:COL errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "config/config.h"
#include "config_test_util.h"

namespace imapgate::config {
namespace {

// A real temporary directory (log_file's directory must exist).
class LogSettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/imapgate-logcfg-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Loads kMinimal plus `extra` as DIR/imapgate.yaml.
  StatusOr<ConfigPtr> Load(const std::string& extra) {
    return LoadConfigText(kMinimal + extra, dir_ + "/imapgate.yaml");
  }
  // The error text without the "DIR/imapgate.yaml:" prefix.
  std::string Error(const std::string& extra) {
    StatusOr<ConfigPtr> c = Load(extra);
    EXPECT_FALSE(c.ok()) << extra;
    if (c.ok()) return "";
    const std::string prefix = dir_ + "/imapgate.yaml:";
    EXPECT_EQ(c.status().message().rfind(prefix, 0), 0u) << c.status().message();
    return c.status().message().substr(prefix.size());
  }
  std::string dir_;
};

TEST_F(LogSettingsTest, DefaultsAreLogfmtToStderr) {
  StatusOr<ConfigPtr> c = Load("");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->log_format, "logfmt");
  EXPECT_EQ((*c)->log_file, "");
}

TEST_F(LogSettingsTest, FormatTakesLogfmtOrJson) {
  StatusOr<ConfigPtr> c = Load("log_format: json\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->log_format, "json");
  c = Load("log_format: logfmt\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->log_format, "logfmt");
}

TEST_F(LogSettingsTest, UnknownFormatIsAnErrorAtItsValue) {
  EXPECT_EQ(Error("log_format: JSON\n"), "7:13: log_format: expected logfmt or json, got 'JSON'");
  EXPECT_EQ(Error("log_format: text\n"), "7:13: log_format: expected logfmt or json, got 'text'");
}

TEST_F(LogSettingsTest, FileIsKeptAbsoluteAndRelativeIsResolvedAgainstTheConfigDirectory) {
  StatusOr<ConfigPtr> c = Load("log_file: " + dir_ + "/imapgate.log\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->log_file, dir_ + "/imapgate.log");
  c = Load("log_file: gate.log\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->log_file, dir_ + "/gate.log");
  c = Load("log_file: \"\"\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->log_file, "");
}

TEST_F(LogSettingsTest, FileInAMissingDirectoryIsAnError) {
  EXPECT_EQ(Error("log_file: " + dir_ + "/nope/imapgate.log\n"),
            "7:11: log_file: directory '" + dir_ + "/nope' does not exist");
}

TEST_F(LogSettingsTest, FileThatIsADirectoryIsAnError) {
  EXPECT_EQ(Error("log_file: " + dir_ + "\n"),
            "7:11: log_file: '" + dir_ + "' is a directory, not a file");
  EXPECT_EQ(Error("log_file: " + dir_ + "/\n"),
            "7:11: log_file: '" + dir_ + "/' names a directory, not a file");
}

TEST_F(LogSettingsTest, FileWithAControlCharacterIsAnError) {
  EXPECT_EQ(Error("log_file: \"" + dir_ + "/a\\tb.log\"\n"), "7:11: log_file: contains a control character");
}

TEST_F(LogSettingsTest, FilePathIsBoundedAt4095Bytes) {
  // 4095 bytes is accepted as far as length goes (the directory check then applies).
  const std::string base = dir_ + "/";
  const std::string ok_path = base + std::string(4095 - base.size(), 'a');
  StatusOr<ConfigPtr> c = Load("log_file: " + ok_path + "\n");
  ASSERT_TRUE(c.ok()) << c.status().message().substr(0, 200);
  EXPECT_EQ(Error("log_file: " + ok_path + "a\n"), "7:11: log_file: longer than 4095 bytes");
}

TEST_F(LogSettingsTest, ANonScalarIsAnError) {
  EXPECT_NE(Error("log_file: [a, b]\n").find("7:11: log_file:"), std::string::npos);
}

}  // namespace
}  // namespace imapgate::config
