// Tests for common/log.h: logfmt escaping, truncation, levels and the one-line-per-event rule.

#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "stderr_capture.h"

namespace imapgate {
namespace {

std::string Field(std::string_view key, std::string_view value) {
  std::string line;
  AppendLogfmtField(&line, key, value);
  return line;
}

using ::imapgate::testing::StderrCapture;

// Restores the process-wide level after each test.
class LogLevelTest : public ::testing::Test {
 protected:
  void TearDown() override { SetLogLevel(LogLevel::kInfo); }
};

TEST(AppendLogfmtFieldTest, PlainValueIsUnquoted) {
  EXPECT_EQ(Field("user", "alice@example.com"), "user=alice@example.com");
}

TEST(AppendLogfmtFieldTest, FieldsAreSpaceSeparated) {
  std::string line;
  AppendLogfmtField(&line, "a", "1");
  AppendLogfmtField(&line, "b", "2");
  EXPECT_EQ(line, "a=1 b=2");
}

TEST(AppendLogfmtFieldTest, EmptyValueIsAnEmptyQuotedString) {
  EXPECT_EQ(Field("k", ""), "k=\"\"");
}

TEST(AppendLogfmtFieldTest, SpaceAndEqualsForceQuotes) {
  EXPECT_EQ(Field("k", "a b"), "k=\"a b\"");
  EXPECT_EQ(Field("k", "a=b"), "k=\"a=b\"");
}

TEST(AppendLogfmtFieldTest, QuoteAndBackslashAreEscaped) {
  EXPECT_EQ(Field("k", "say \"hi\""), "k=\"say \\\"hi\\\"\"");
  EXPECT_EQ(Field("k", "C:\\dir"), "k=\"C:\\\\dir\"");
  EXPECT_EQ(Field("k", "\""), "k=\"\\\"\"");
}

TEST(AppendLogfmtFieldTest, ControlBytesBecomeHexEscapes) {
  EXPECT_EQ(Field("k", "a\nb"), "k=\"a\\x0ab\"");
  EXPECT_EQ(Field("k", "a\rb"), "k=\"a\\x0db\"");
  EXPECT_EQ(Field("k", "a\tb"), "k=\"a\\x09b\"");
  EXPECT_EQ(Field("k", std::string_view("a\0b", 3)), "k=\"a\\x00b\"");
  EXPECT_EQ(Field("k", "\x1b[31m"), "k=\"\\x1b[31m\"");
  EXPECT_EQ(Field("k", "\x7f"), "k=\"\\x7f\"");
}

TEST(AppendLogfmtFieldTest, NonAsciiBytesBecomeHexEscapes) {
  EXPECT_EQ(Field("k", "caf\xc3\xa9"), "k=\"caf\\xc3\\xa9\"");
  EXPECT_EQ(Field("k", "\xff"), "k=\"\\xff\"");
}

TEST(AppendLogfmtFieldTest, NewlineCannotForgeALine) {
  const std::string evil = "x\r\nts=2020-01-01T00:00:00.000Z level=error event=forged";
  const std::string out = Field("user", evil);
  EXPECT_EQ(out.find('\n'), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  // The forged "fields" stay inside the one quoted value.
  EXPECT_EQ(out, "user=\"x\\x0d\\x0ats=2020-01-01T00:00:00.000Z level=error event=forged\"");
}

TEST(AppendLogfmtFieldTest, EscapedOutputHasOnlyPrintableAscii) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string out = Field("k", all);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
      << out;
}

TEST(AppendLogfmtFieldTest, ValuesUpTo512BytesAreKeptWhole) {
  const std::string v(512, 'a');
  EXPECT_EQ(Field("k", v), "k=" + v);
}

TEST(AppendLogfmtFieldTest, LongerValuesAreCutAt512BytesWithAnEllipsis) {
  const std::string v = std::string(512, 'a') + "SECRET-TAIL";
  EXPECT_EQ(Field("k", v), "k=" + std::string(512, 'a') + "...");
}

TEST(AppendLogfmtFieldTest, TruncationCountsRawBytesBeforeEscaping) {
  const std::string v(600, '\n');
  std::string expected = "k=\"";
  for (int i = 0; i < 512; ++i) expected += "\\x0a";
  expected += "...\"";
  EXPECT_EQ(Field("k", v), expected);
}

TEST(AppendLogfmtFieldTest, TruncationDecidesQuotingOnTheKeptPart) {
  // The only byte that would need quotes is past the cut.
  const std::string v = std::string(512, 'a') + " b";
  EXPECT_EQ(Field("k", v), "k=" + std::string(512, 'a') + "...");
}

TEST_F(LogLevelTest, ParsesTheFourNames) {
  LogLevel level = LogLevel::kError;
  ASSERT_TRUE(ParseLogLevel("debug", &level));
  EXPECT_EQ(level, LogLevel::kDebug);
  ASSERT_TRUE(ParseLogLevel("info", &level));
  EXPECT_EQ(level, LogLevel::kInfo);
  ASSERT_TRUE(ParseLogLevel("warn", &level));
  EXPECT_EQ(level, LogLevel::kWarn);
  ASSERT_TRUE(ParseLogLevel("error", &level));
  EXPECT_EQ(level, LogLevel::kError);
}

TEST_F(LogLevelTest, RejectsUnknownNamesAndLeavesOutputAlone) {
  LogLevel level = LogLevel::kWarn;
  EXPECT_FALSE(ParseLogLevel("", &level));
  EXPECT_FALSE(ParseLogLevel("INFO", &level));
  EXPECT_FALSE(ParseLogLevel("warning", &level));
  EXPECT_EQ(level, LogLevel::kWarn);
}

TEST_F(LogLevelTest, MinimumLevelFilters) {
  SetLogLevel(LogLevel::kWarn);
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kWarn));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
}

TEST_F(LogLevelTest, EventIsOneLineWithTimestampLevelEventAndFields) {
  StderrCapture capture;
  LogEvent(LogLevel::kInfo, "session_end")
      .Add("sid", "w1-7")
      .Add("n", 42)
      .Add("big", static_cast<uint64_t>(18446744073709551615ull))
      .Add("neg", static_cast<int64_t>(-5))
      .Add("secs", 1.5);
  const std::string out = capture.Take();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.rfind("ts=", 0), 0u) << out;
  EXPECT_NE(out.find(" level=info event=session_end sid=w1-7 n=42 big=18446744073709551615 "
                     "neg=-5 secs=1.500000\n"),
            std::string::npos)
      << out;
}

TEST_F(LogLevelTest, ClientTextCannotForgeASecondLine) {
  StderrCapture capture;
  LogEvent(LogLevel::kWarn, "bad_command").Add("line", "A1 LOGIN\nts=x level=error event=forged");
  const std::string out = capture.Take();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(out.find("\nts="), std::string::npos) << out;
}

TEST_F(LogLevelTest, EventsBelowTheLevelWriteNothing) {
  SetLogLevel(LogLevel::kError);
  StderrCapture capture;
  LogEvent(LogLevel::kWarn, "dropped").Add("k", "v");
  EXPECT_EQ(capture.Take(), "");
}

}  // namespace
}  // namespace imapgate
