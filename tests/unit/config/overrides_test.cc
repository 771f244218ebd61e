// Tests for config/overrides.h: the override file parser and its bounds.
#include "config/overrides.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace imapgate::config {
namespace {

const std::vector<std::string> kShards = {"shard-a", "shard-b"};
const std::string kFile = "/etc/imapgate/overrides";

OverrideMap ParseOk(std::string_view text, std::string_view domain = {}) {
  StatusOr<OverrideMap> map = ParseOverrides(text, kFile, kShards, domain);
  EXPECT_TRUE(map.ok()) << map.status().message();
  return map.ok() ? *map : OverrideMap{};
}

// The error message without the file name prefix of its first line.
std::string Error(std::string_view text, std::string_view domain = {}) {
  StatusOr<OverrideMap> map = ParseOverrides(text, kFile, kShards, domain);
  EXPECT_FALSE(map.ok());
  if (map.ok()) return "";
  const std::string& m = map.status().message();
  EXPECT_EQ(m.rfind(kFile + ":", 0), 0u) << m;
  return m.substr(kFile.size() + 1);
}

TEST(ParseOverridesTest, ReadsUsersCommentsAndBlankLines) {
  EXPECT_EQ(ParseOk("# header\n"
                    "\n"
                    "alice@demo.test shard-a\n"
                    "  \tBOB@Demo.Test\tshard-b   # moved on 2026-11-30\n"
                    "   # indented comment\n"
                    "carol shard-a\r\n"
                    "dave shard-b"),
            (OverrideMap{{"alice@demo.test", "shard-a"},
                         {"bob@demo.test", "shard-b"},
                         {"carol", "shard-a"},
                         {"dave", "shard-b"}}));
  EXPECT_TRUE(ParseOk("").empty());
  EXPECT_TRUE(ParseOk("\n\n# nothing\n").empty());
}

TEST(ParseOverridesTest, BareNamesTakeTheDefaultDomain) {
  EXPECT_EQ(ParseOk("Carol shard-a\n", "demo.test"), (OverrideMap{{"carol@demo.test", "shard-a"}}));
}

TEST(ParseOverridesTest, UnknownShardNamesItsLineAndColumn) {
  EXPECT_EQ(Error("alice shard-a\n# c\n  bob shard-c\n"),
            "3:7: unknown shard 'shard-c' (shards: shard-a, shard-b)");
  // Shard names are exact: no case folding.
  EXPECT_EQ(Error("alice Shard-A\n"), "1:7: unknown shard 'Shard-A' (shards: shard-a, shard-b)");
}

TEST(ParseOverridesTest, MalformedLines) {
  EXPECT_EQ(Error("alice\n"), "1:6: missing shard after user 'alice' (expected 'USER SHARD')");
  EXPECT_EQ(Error("alice # shard-a\n"),
            "1:7: missing shard after user 'alice' (expected 'USER SHARD')");
  EXPECT_EQ(Error("alice shard-a shard-b\n"),
            "1:15: unexpected third field 'shard-b' (expected 'USER SHARD', then optionally a # "
            "comment)");
}

TEST(ParseOverridesTest, DuplicateUsersAfterNormalization) {
  EXPECT_EQ(Error("alice@demo.test shard-a\nALICE shard-a\n", "demo.test"),
            "2:1: duplicate user 'alice@demo.test' (first at line 1)");
}

TEST(ParseOverridesTest, InvalidBytes) {
  EXPECT_EQ(Error("al\x01ice shard-a\n"),
            "1:3: invalid byte: the file must be UTF-8 text without control characters");
  EXPECT_EQ(Error("j\xc3\xb6rg shard-a\n\xff shard-b\n"),
            "2:1: invalid byte: the file must be UTF-8 text without control characters");
  EXPECT_EQ(ParseOk("J\xc3\x96RG shard-a\n"), (OverrideMap{{"j\xc3\x96rg", "shard-a"}}));
}

TEST(ParseOverridesTest, LineLengthIsBounded) {
  // 512 bytes is the longest line; the 513th byte is the error's column.
  const std::string ok_user(512 - 8, 'u');
  const std::string padded = ok_user.substr(0, 300) + std::string(212 - 8, ' ');
  EXPECT_EQ(ParseOk(padded + " shard-a\n").size(), 1u);
  EXPECT_EQ(Error(padded + "  shard-a\n"), "1:513: line longer than 512 bytes");
  EXPECT_EQ(Error("a shard-a\n" + std::string(100000, 'x') + "\n"),
            "2:513: line longer than 512 bytes");
}

TEST(ParseOverridesTest, UserNameLengthIsBounded) {
  const std::string longest(320, 'u');
  EXPECT_EQ(ParseOk(longest + " shard-a\n").size(), 1u);
  EXPECT_EQ(Error(longest + "u shard-a\n"),
            "1:1: user name longer than 320 bytes (with the default domain)");
  // The default domain counts.
  EXPECT_EQ(Error(std::string(315, 'u') + " shard-a\n", "demo.test"),
            "1:1: user name longer than 320 bytes (with the default domain)");
}

TEST(ParseOverridesTest, EntryCountIsBounded) {
  std::string text;
  for (size_t i = 0; i < kMaxOverrideEntries; ++i) text += "u" + std::to_string(i) + " shard-a\n";
  EXPECT_EQ(ParseOk(text).size(), kMaxOverrideEntries);
  text += "# a comment does not count\n\none-more shard-b\nand-another shard-b\n";
  EXPECT_EQ(Error(text), std::to_string(kMaxOverrideEntries + 3) +
                             ":1: more than 100000 overrides in one file");
}

TEST(ParseOverridesTest, ErrorsAreCappedAndCounted) {
  std::string text;
  for (int i = 0; i < 25; ++i) text += "u" + std::to_string(i) + " nope\n";
  StatusOr<OverrideMap> map = ParseOverrides(text, kFile, kShards);
  ASSERT_FALSE(map.ok());
  const std::string& m = map.status().message();
  EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 20);
  EXPECT_NE(m.find(kFile + ":20:5: unknown shard 'nope'"), std::string::npos);
  EXPECT_EQ(m.find(kFile + ":21:"), std::string::npos);
  EXPECT_NE(m.find("\n" + kFile + ": 5 more errors not shown"), std::string::npos) << m;
}

class LoadOverrideFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/imapgate-overrides-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Message(const std::string& path) {
    StatusOr<OverrideMap> map = LoadOverrideFile(path, kShards);
    EXPECT_FALSE(map.ok());
    return map.ok() ? "" : map.status().message();
  }
  std::string dir_;
};

TEST_F(LoadOverrideFileTest, ReadsARegularFile) {
  std::ofstream(dir_ + "/o") << "alice shard-b\n";
  StatusOr<OverrideMap> map = LoadOverrideFile(dir_ + "/o", kShards, "demo.test");
  ASSERT_TRUE(map.ok()) << map.status().message();
  EXPECT_EQ(*map, (OverrideMap{{"alice@demo.test", "shard-b"}}));
}

TEST_F(LoadOverrideFileTest, RefusesWhatItCannotRead) {
  EXPECT_EQ(Message(dir_ + "/missing"),
            dir_ + "/missing: cannot read file: No such file or directory");
  EXPECT_EQ(Message(dir_), dir_ + ": cannot read file: Is a directory");
  // A FIFO must not hang the load.
  ASSERT_EQ(mkfifo((dir_ + "/fifo").c_str(), 0600), 0);
  EXPECT_EQ(Message(dir_ + "/fifo"), dir_ + "/fifo: cannot read file: not a regular file");
}

TEST_F(LoadOverrideFileTest, FileSizeIsBounded) {
  const std::string path = dir_ + "/big";
  std::ofstream(path) << "alice shard-a\n";
  ASSERT_EQ(truncate(path.c_str(), kMaxOverrideFileBytes + 1), 0);
  EXPECT_EQ(Message(path), path + ": cannot read file: larger than 16MiB");
  ASSERT_EQ(truncate(path.c_str(), 14), 0);
  EXPECT_TRUE(LoadOverrideFile(path, kShards).ok());
}

}  // namespace
}  // namespace imapgate::config
