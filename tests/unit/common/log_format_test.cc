// Tests for common/log.h's JSON format (escaping, the 512-byte cut, numbers, strict validity)
// and its destination (a file, reopened after a rename, concurrent writers, write failures).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "stderr_capture.h"
#include "strict_json.h"

namespace imapgate {
namespace {

using ::imapgate::testing::JsonValue;
using ::imapgate::testing::StderrCapture;
using ::imapgate::testing::StrictJsonObject;
using Object = std::map<std::string, JsonValue>;

// {"k":<value>} as AppendJsonField writes it.
std::string JsonField(std::string_view value) {
  std::string object = "{";
  AppendJsonField(&object, "k", value);
  return object + "}";
}

// Parses `line` strictly; fails the test (without printing the line's values) when invalid.
Object ParseOrFail(const std::string& line) {
  std::string error;
  auto parsed = StrictJsonObject::Parse(line, &error);
  EXPECT_TRUE(parsed.has_value()) << "invalid JSON (" << error << "): " << line;
  return parsed.value_or(Object{});
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Restores the process-wide format, level and destination after each test.
class LogFormatTest : public ::testing::Test {
 protected:
  void TearDown() override {
    SetLogFormat(LogFormat::kLogfmt);
    SetLogLevel(LogLevel::kInfo);
    IgnoreStatus(OpenLogDestination(""), "stderr cannot fail");
  }
};

// --- The strict parser itself: it must refuse what a sloppy formatter would produce.
TEST(StrictJsonTest, RefusesInvalidJson) {
  for (const char* bad : {"{\"k\":\"a\nb\"}", "{\"k\":\"\\x41\"}", "{\"k\":1,}", "{\"k\":NaN}",
                          "{\"k\":01}", "{\"k\":\"\\u00g1\"}", "{\"k\":\"\xff\"}", "{\"k\":\"a\"} x",
                          "{k:1}", "{\"k\":1.}", "{\"k\":\"unterminated}", "{\"k\":\"\\'\"}"}) {
    EXPECT_FALSE(StrictJsonObject::Parse(bad).has_value()) << bad;
  }
  auto ok = StrictJsonObject::Parse("{\"a\":\"x\\\"y\",\"b\":-1.5e3,\"c\":null}");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)["a"].text, "x\"y");
  EXPECT_EQ((*ok)["b"].kind, JsonValue::Kind::kNumber);
}

TEST(AppendJsonFieldTest, QuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(JsonField("say \"hi\""), "{\"k\":\"say \\\"hi\\\"\"}");
  EXPECT_EQ(JsonField("C:\\dir"), "{\"k\":\"C:\\\\dir\"}");
  EXPECT_EQ(JsonField(""), "{\"k\":\"\"}");
}

TEST(AppendJsonFieldTest, ControlBytesBecomeUnicodeEscapes) {
  EXPECT_EQ(JsonField("a\nb"), "{\"k\":\"a\\u000ab\"}");
  EXPECT_EQ(JsonField(std::string_view("a\0b", 3)), "{\"k\":\"a\\u0000b\"}");
  EXPECT_EQ(JsonField("\x1b[31m\x7f"), "{\"k\":\"\\u001b[31m\\u007f\"}");
}

TEST(AppendJsonFieldTest, NonUtf8AndNonAsciiBytesBecomeOneCodePointEach) {
  EXPECT_EQ(JsonField("caf\xc3\xa9"), "{\"k\":\"caf\\u00c3\\u00a9\"}");
  EXPECT_EQ(JsonField("\xff\xfe"), "{\"k\":\"\\u00ff\\u00fe\"}");
}

TEST(AppendJsonFieldTest, EveryByteRoundTripsThroughAStrictParser) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string line = JsonField(all);
  EXPECT_TRUE(std::all_of(line.begin(), line.end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
  Object o = ParseOrFail(line);
  EXPECT_EQ(o["k"].text, all);
}

TEST(AppendJsonFieldTest, KeysAreEscapedToo) {
  std::string object = "{";
  AppendJsonField(&object, "a\"b", "v");
  EXPECT_EQ(object, "{\"a\\\"b\":\"v\"");
}

TEST(AppendJsonFieldTest, ValuesAreCutAt512RawBytes) {
  const std::string kept(512, '\n');
  Object o = ParseOrFail(JsonField(kept + "SECRET-TAIL"));
  EXPECT_EQ(o["k"].text, kept + "...");
  o = ParseOrFail(JsonField(std::string(512, 'a')));
  EXPECT_EQ(o["k"].text, std::string(512, 'a'));
  // A cut inside a multi-byte sequence still gives valid JSON.
  std::string utf8;
  while (utf8.size() < 600) utf8 += "\xc3\xa9";
  o = ParseOrFail(JsonField("x" + utf8));
  EXPECT_EQ(o["k"].text.size(), 512u + 3);
}

TEST_F(LogFormatTest, ParsesTheTwoFormatNames) {
  LogFormat f = LogFormat::kJson;
  ASSERT_TRUE(ParseLogFormat("logfmt", &f));
  EXPECT_EQ(f, LogFormat::kLogfmt);
  ASSERT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("JSON", &f));
  EXPECT_FALSE(ParseLogFormat("", &f));
  EXPECT_EQ(f, LogFormat::kJson);
}

TEST_F(LogFormatTest, JsonEventIsOneStrictObjectWithTsLevelEventAndNumbers) {
  SetLogFormat(LogFormat::kJson);
  StderrCapture capture;
  LogEvent(LogLevel::kWarn, "session_end")
      .Add("sid", "w1-7")
      .Add("user", "evil\"\\\n\xff")
      .Add("n", 42)
      .Add("big", static_cast<uint64_t>(18446744073709551615ull))
      .Add("neg", static_cast<int64_t>(-5))
      .Add("secs", 1.5)
      .Add("huge", 1e300)
      .Add("nan", 0.0 / 0.0);
  const std::string out = capture.Take();
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  ASSERT_EQ(out.back(), '\n');
  EXPECT_EQ(out.rfind("{\"ts\":\"", 0), 0u) << out;
  EXPECT_NE(out.find("\"level\":\"warn\",\"event\":\"session_end\",\"sid\":\"w1-7\""), std::string::npos) << out;
  Object o = ParseOrFail(out.substr(0, out.size() - 1));
  EXPECT_TRUE(std::regex_match(o["ts"].text, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"))) << o["ts"].text;
  EXPECT_EQ(o["user"].text, "evil\"\\\n\xff");
  EXPECT_EQ(o["n"].kind, JsonValue::Kind::kNumber);
  EXPECT_EQ(o["n"].text, "42");
  EXPECT_EQ(o["big"].text, "18446744073709551615");
  EXPECT_EQ(o["neg"].text, "-5");
  EXPECT_EQ(o["secs"].kind, JsonValue::Kind::kNumber);
  EXPECT_EQ(o["secs"].text, "1.500000");
  EXPECT_EQ(o["huge"].kind, JsonValue::Kind::kNumber);
  EXPECT_EQ(o["nan"].kind, JsonValue::Kind::kLiteral);
  EXPECT_EQ(o["nan"].text, "null");
}

TEST_F(LogFormatTest, LogfmtRemainsTheDefaultAndTheFormatSwitchesAtOnce) {
  EXPECT_EQ(CurrentLogFormat(), LogFormat::kLogfmt);
  StderrCapture capture;
  LogEvent(LogLevel::kInfo, "a").Add("k", "v");
  SetLogFormat(LogFormat::kJson);
  LogEvent(LogLevel::kInfo, "b").Add("k", "v");
  const std::vector<std::string> lines = Lines(capture.Take());
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("ts=", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find(" level=info event=a k=v"), std::string::npos) << lines[0];
  EXPECT_EQ(ParseOrFail(lines[1])["event"].text, "b");
}

// --- The destination.
class LogDestinationTest : public LogFormatTest {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/imapgate-logdest-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    LogFormatTest::TearDown();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_;
};

TEST_F(LogDestinationTest, FileGetsTheLinesAndAReopenAfterARenameStartsANewFile) {
  const std::string path = dir_ + "/gate.log";
  ASSERT_TRUE(OpenLogDestination(path).ok());
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_all,
            std::filesystem::perms::none);
  StderrCapture capture;  // nothing may go to stderr meanwhile
  LogEvent(LogLevel::kInfo, "before").Add("n", 1);
  std::filesystem::rename(path, path + ".1");
  LogEvent(LogLevel::kInfo, "between").Add("n", 2);  // still the old (renamed) file
  ASSERT_TRUE(ReopenLogDestination().ok());
  LogEvent(LogLevel::kInfo, "after").Add("n", 3);
  EXPECT_EQ(capture.Take(), "");
  const std::vector<std::string> old_lines = Lines(ReadAll(path + ".1"));
  const std::vector<std::string> new_lines = Lines(ReadAll(path));
  ASSERT_EQ(old_lines.size(), 2u);
  EXPECT_NE(old_lines[0].find("event=before"), std::string::npos);
  EXPECT_NE(old_lines[1].find("event=between"), std::string::npos);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_NE(new_lines[0].find("event=after"), std::string::npos);
}

TEST_F(LogDestinationTest, AFailedOpenKeepsTheCurrentDestination) {
  const std::string path = dir_ + "/gate.log";
  ASSERT_TRUE(OpenLogDestination(path).ok());
  Status st = OpenLogDestination(dir_ + "/missing/x.log");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(dir_ + "/missing/x.log"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("No such file"), std::string::npos) << st.message();
  // A reopen of a path that cannot be opened fails the same way and keeps the file too.
  SetLogDestinationPath(dir_ + "/missing/y.log");
  EXPECT_FALSE(ReopenLogDestination().ok());
  LogEvent(LogLevel::kInfo, "kept");
  EXPECT_NE(ReadAll(path).find("event=kept"), std::string::npos);
}

TEST_F(LogDestinationTest, BackToStderrWhenThePathBecomesEmpty) {
  const std::string path = dir_ + "/gate.log";
  ASSERT_TRUE(OpenLogDestination(path).ok());
  SetLogDestinationPath("");
  ASSERT_TRUE(ReopenLogDestination().ok());
  StderrCapture capture;
  LogEvent(LogLevel::kInfo, "on_stderr");
  EXPECT_NE(capture.Take().find("event=on_stderr"), std::string::npos);
  EXPECT_EQ(ReadAll(path).find("event=on_stderr"), std::string::npos);
}

TEST_F(LogDestinationTest, AWriteFailureIsCountedNotFatal) {
  ASSERT_TRUE(OpenLogDestination("/dev/full").ok());  // every write fails with ENOSPC
  const uint64_t before = LogWriteFailures();
  errno = EAGAIN;
  LogEvent(LogLevel::kInfo, "lost");
  EXPECT_EQ(errno, EAGAIN);  // the caller's errno survives logging
  EXPECT_EQ(LogWriteFailures(), before + 1);
}

// Writers on four threads while the main thread renames and reopens: every line lands whole in
// exactly one of the files, none is lost, none goes to stderr.
TEST_F(LogDestinationTest, ConcurrentWritersLoseNothingAcrossReopens) {
  SetLogFormat(LogFormat::kJson);
  const std::string path = dir_ + "/gate.log";
  ASSERT_TRUE(OpenLogDestination(path).ok());
  StderrCapture capture;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 3000;
  std::atomic<int> running{kThreads};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &running] {
      for (int i = 0; i < kPerThread; ++i) {
        LogEvent(LogLevel::kInfo, "line").Add("t", t).Add("i", i).Add("pad", std::string(100, 'x'));
      }
      --running;
    });
  }
  int rotations = 0;
  while (running.load() > 0 || rotations < 3) {
    std::filesystem::rename(path, path + "." + std::to_string(++rotations));
    ASSERT_TRUE(ReopenLogDestination().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(capture.Take(), "");
  std::vector<std::vector<bool>> seen(kThreads, std::vector<bool>(kPerThread, false));
  int total = 0;
  for (int r = 0; r <= rotations; ++r) {
    const std::string file = r == 0 ? path : path + "." + std::to_string(r);
    for (const std::string& line : Lines(ReadAll(file))) {
      Object o = ParseOrFail(line);
      const int t = std::stoi(o["t"].text);
      const int i = std::stoi(o["i"].text);
      ASSERT_TRUE(t >= 0 && t < kThreads && i >= 0 && i < kPerThread) << line;
      EXPECT_FALSE(seen[t][i]) << "twice: " << line;
      seen[t][i] = true;
      ++total;
    }
  }
  EXPECT_EQ(total, kThreads * kPerThread);
  EXPECT_GE(rotations, 3);
}

}  // namespace
}  // namespace imapgate
