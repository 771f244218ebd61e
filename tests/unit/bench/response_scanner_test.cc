#include "bench/loadgen/response_scanner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace imapgate::bench {
namespace {

struct Collected {
  std::vector<std::string> lines;
  std::vector<bool> starts;
  uint64_t literal = 0;
  bool error = false;
};

// Feeds `input` in chunks of `chunk` bytes.
Collected Scan(const std::string& input, size_t chunk, ResponseScanner* scanner) {
  Collected c;
  for (size_t off = 0; off < input.size() && !c.error; off += chunk) {
    std::string_view in = std::string_view(input).substr(off, chunk);
    size_t pos = 0;
    for (;;) {
      auto ev = scanner->Next(in, &pos);
      if (ev.kind == ResponseScanner::Kind::kNeedMore) break;
      if (ev.kind == ResponseScanner::Kind::kError) {
        c.error = true;
        break;
      }
      if (ev.kind == ResponseScanner::Kind::kLiteral) {
        c.literal += ev.literal_bytes;
      } else {
        c.lines.emplace_back(ev.line);
        c.starts.push_back(ev.response_start);
      }
    }
  }
  return c;
}

TEST(ResponseScannerTest, LinesAnyChunking) {
  const std::string input = "* OK ready\r\na1 OK done\r\n* 3 EXISTS\r\n";
  for (size_t chunk : {1u, 2u, 5u, 100u}) {
    ResponseScanner s;
    Collected c = Scan(input, chunk, &s);
    ASSERT_EQ(c.lines.size(), 3u) << chunk;
    EXPECT_EQ(c.lines[0], "* OK ready");
    EXPECT_EQ(c.lines[1], "a1 OK done");
    EXPECT_EQ(c.lines[2], "* 3 EXISTS");
    EXPECT_TRUE(s.at_boundary());
  }
}

TEST(ResponseScannerTest, LiteralIsSkippedAndCounted) {
  std::string body(10000, 'x');
  body += "\r\na9 OK looks like a tag inside the literal\r\n";
  std::string input = "* 1 FETCH (UID 1 BODY[] {" + std::to_string(body.size()) + "}\r\n" + body +
                      ")\r\na2 OK UID FETCH completed\r\n";
  for (size_t chunk : {1u, 7u, 4096u, 1u << 20}) {
    ResponseScanner s;
    Collected c = Scan(input, chunk, &s);
    ASSERT_FALSE(c.error);
    EXPECT_EQ(c.literal, body.size());
    ASSERT_EQ(c.lines.size(), 3u);
    EXPECT_TRUE(c.starts[0]);
    EXPECT_EQ(c.lines[1], ")");
    EXPECT_FALSE(c.starts[1]);  // continues the FETCH response
    EXPECT_EQ(c.lines[2], "a2 OK UID FETCH completed");
    EXPECT_TRUE(c.starts[2]);
  }
}

TEST(ResponseScannerTest, LineTooLongIsError) {
  ResponseScanner s(16);
  EXPECT_TRUE(Scan(std::string(17, 'a'), 4, &s).error);
  ResponseScanner t(16);
  EXPECT_TRUE(Scan(std::string(40, 'a') + "\r\n", 100, &t).error);
  ResponseScanner u(16);
  EXPECT_FALSE(Scan(std::string(14, 'a') + "\r\n", 3, &u).error);
}

TEST(ResponseScannerTest, LiteralTooLargeIsError) {
  ResponseScanner s(1024, 100);
  EXPECT_TRUE(Scan("* 1 FETCH (BODY[] {101}\r\n", 5, &s).error);
  ResponseScanner t(1024, 100);
  EXPECT_FALSE(Scan("* 1 FETCH (BODY[] {100}\r\n", 5, &t).error);
}

TEST(ResponseScannerTest, ClassifyTagged) {
  LineInfo ok = ClassifyLine("a12 OK LOGIN completed");
  EXPECT_EQ(ok.type, LineInfo::Type::kTagged);
  EXPECT_EQ(ok.tag, "a12");
  EXPECT_EQ(ok.status, LineInfo::Status::kOk);
  EXPECT_EQ(ClassifyLine("a1 no [AUTHENTICATIONFAILED] x").status, LineInfo::Status::kNo);
  EXPECT_EQ(ClassifyLine("a1 BAD parse").status, LineInfo::Status::kBad);
  EXPECT_EQ(ClassifyLine("a1 OKAY").status, LineInfo::Status::kNone);
  EXPECT_EQ(ClassifyLine("a1").status, LineInfo::Status::kNone);
}

TEST(ResponseScannerTest, ClassifyUntaggedAndContinuation) {
  LineInfo bye = ClassifyLine("* BYE shutting down");
  EXPECT_EQ(bye.type, LineInfo::Type::kUntagged);
  EXPECT_EQ(bye.status, LineInfo::Status::kBye);
  EXPECT_EQ(ClassifyLine("* OK [CAPABILITY IMAP4rev1] ready").status, LineInfo::Status::kOk);
  EXPECT_EQ(ClassifyLine("* PREAUTH hi").status, LineInfo::Status::kPreauth);
  EXPECT_EQ(ClassifyLine("* 1 EXISTS").status, LineInfo::Status::kNone);
  EXPECT_EQ(ClassifyLine("+ idling").type, LineInfo::Type::kContinuation);
  EXPECT_EQ(ClassifyLine("+").type, LineInfo::Type::kContinuation);
}

TEST(ResponseScannerTest, TrailingLiteral) {
  EXPECT_EQ(TrailingLiteralSize("* 1 FETCH (BODY[] {123}"), 123);
  EXPECT_EQ(TrailingLiteralSize("x {0}"), 0);
  EXPECT_EQ(TrailingLiteralSize("x {5+}"), 5);
  EXPECT_EQ(TrailingLiteralSize("x ~{7}"), 7);
  EXPECT_EQ(TrailingLiteralSize("a1 OK done"), -1);
  EXPECT_EQ(TrailingLiteralSize("* OK {x}"), -2);
  EXPECT_EQ(TrailingLiteralSize("* OK {}"), -2);
  EXPECT_EQ(TrailingLiteralSize("x {67108865}"), -2);  // above 64 MiB
  EXPECT_EQ(TrailingLiteralSize("x {67108864}"), 67108864);
  EXPECT_EQ(TrailingLiteralSize("x {99999999999999999999999}"), -2);
}

TEST(ResponseScannerTest, ReleaseMemoryKeepsWorking) {
  ResponseScanner s;
  Collected c = Scan("* OK a very long greeting line split\r\n", 3, &s);
  ASSERT_EQ(c.lines.size(), 1u);
  s.ReleaseMemory();
  c = Scan("a1 OK x\r\n", 2, &s);
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_EQ(c.lines[0], "a1 OK x");
}

}  // namespace
}  // namespace imapgate::bench
