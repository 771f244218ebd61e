#include "bench/fixture_backend/command_reader.h"

#include <gtest/gtest.h>

namespace imapgate::bench {
namespace {

using Result = CommandReader::Result;
using Tokens = std::vector<std::string>;

TEST(CommandReaderTest, SimpleAndQuoted) {
  CommandReader r;
  std::string in = "a1 LOGIN \"us\\\"er\" pass\r\na2 NOOP\r\n";
  size_t pos = 0;
  ASSERT_EQ(r.Next(in, &pos), Result::kCommand);
  EXPECT_EQ(r.tokens(), (Tokens{"a1", "LOGIN", "us\"er", "pass"}));
  ASSERT_EQ(r.Next(in, &pos), Result::kCommand);
  EXPECT_EQ(r.tokens(), (Tokens{"a2", "NOOP"}));
  EXPECT_EQ(r.Next(in, &pos), Result::kNeedMore);
  EXPECT_TRUE(r.empty());
}

TEST(CommandReaderTest, SynchronizingLiteral) {
  CommandReader r;
  size_t pos = 0;
  std::string a = "A2 LOGIN {5}\r\n";
  EXPECT_EQ(r.Next(a, &pos), Result::kContinue);
  std::string b = "alice {3}\r\n";
  pos = 0;
  EXPECT_EQ(r.Next(b, &pos), Result::kContinue);
  std::string c = "pw!\r\n";
  pos = 0;
  ASSERT_EQ(r.Next(c, &pos), Result::kCommand);
  EXPECT_EQ(r.tokens(), (Tokens{"A2", "LOGIN", "alice", "pw!"}));
}

TEST(CommandReaderTest, NonSynchronizingLiteralByteByByte) {
  CommandReader r;
  std::string in = "A2 LOGIN {5+}\r\nalice {4+}\r\np w\"\r\n";
  Result last = Result::kNeedMore;
  for (size_t i = 0; i < in.size(); ++i) {
    size_t pos = 0;
    last = r.Next(std::string_view(in).substr(i, 1), &pos);
    EXPECT_EQ(pos, 1u);
    if (i + 1 < in.size()) {
      EXPECT_EQ(last, Result::kNeedMore) << i;
    }
  }
  ASSERT_EQ(last, Result::kCommand);
  EXPECT_EQ(r.tokens(), (Tokens{"A2", "LOGIN", "alice", "p w\""}));
}

TEST(CommandReaderTest, Bounds) {
  CommandReader r(16, 8);
  size_t pos = 0;
  std::string long_line(17, 'a');
  EXPECT_EQ(r.Next(long_line, &pos), Result::kError);
  CommandReader r2(64, 8);
  pos = 0;
  EXPECT_EQ(r2.Next("a LOGIN {9}\r\n", &pos), Result::kError);
  EXPECT_EQ(r2.error(), "literal too large");
  CommandReader r3;
  pos = 0;
  EXPECT_EQ(r3.Next("a LOGIN \"open\r\n", &pos), Result::kError);
  CommandReader r4;
  pos = 0;
  EXPECT_EQ(r4.Next("a LOGIN {x}\r\n", &pos), Result::kError);
}

TEST(CommandReaderTest, DoneLineAndRelease) {
  CommandReader r;
  size_t pos = 0;
  ASSERT_EQ(r.Next("DONE\r\n", &pos), Result::kCommand);
  EXPECT_EQ(r.tokens(), (Tokens{"DONE"}));
  r.ReleaseMemory();
  pos = 0;
  ASSERT_EQ(r.Next("a UID FETCH 1 BODY.PEEK[]\n", &pos), Result::kCommand);
  EXPECT_EQ(r.tokens(), (Tokens{"a", "UID", "FETCH", "1", "BODY.PEEK[]"}));
}

}  // namespace
}  // namespace imapgate::bench
