#include "imap/stream_framing.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include "raw_deflate.h"

#include <string>

namespace imapgate::imap {
namespace {

void Client(StreamFraming& f, std::string_view s) { f.FromClient(s.data(), s.size()); }
void Backend(StreamFraming& f, std::string_view s) { f.FromBackend(s.data(), s.size()); }

// Feeds `s` one byte at a time (every chunk boundary is exercised).
void BackendBytewise(StreamFraming& f, std::string_view s) {
  for (char c : s) f.FromBackend(&c, 1);
}

// Inflates what the client would read; fails the test on a corrupt stream or bytes left over.
std::string Inflate(testing::RawDeflate& z, std::string_view s) {
  bool ok = false;
  std::string out = z.Inflate(s, &ok);
  EXPECT_TRUE(ok) << "corrupt deflate stream, or input left over";
  return out;
}

TEST(StreamFramingTest, UntaggedByeAtLineStartIsSeen) {
  StreamFraming f;
  Backend(f, "a OK Logged in\r\n");
  EXPECT_FALSE(f.backend_said_bye());
  Backend(f, "* BYE Logging out\r\nz OK Logout completed.\r\n");
  EXPECT_TRUE(f.backend_said_bye());
  EXPECT_EQ(f.backend_position(), StreamPosition::kLineStart);
}

TEST(StreamFramingTest, ByeIsCaseInsensitiveAndSplitAcrossReads) {
  StreamFraming f;
  BackendBytewise(f, "* bye server going down\r\n");
  EXPECT_TRUE(f.backend_said_bye());
}

TEST(StreamFramingTest, ByeLinesInsideALiteralAreMessageBody) {
  StreamFraming f;
  std::string body = "Subject: x\r\n\r\nline\r\n* BYE not from the server\r\n* BYE again\r\n";
  std::string response = "* 1 FETCH (BODY[] {" + std::to_string(body.size()) + "}\r\n" + body + ")\r\n";
  Backend(f, response.substr(0, 25));
  EXPECT_EQ(f.backend_position(), StreamPosition::kInLiteral);
  Backend(f, response.substr(25));
  EXPECT_FALSE(f.backend_said_bye());
  EXPECT_EQ(f.backend_position(), StreamPosition::kLineStart);
  // And byte by byte, with the literal header split at every point.
  StreamFraming g;
  BackendBytewise(g, response);
  EXPECT_FALSE(g.backend_said_bye());
  EXPECT_EQ(g.backend_position(), StreamPosition::kLineStart);
}

TEST(StreamFramingTest, ByeWordMustBeWholeAndUntagged) {
  StreamFraming f;
  Backend(f, "* BYEBYE x\r\n* OK BYE\r\na BYE x\r\n* 3 EXISTS\r\n");
  EXPECT_FALSE(f.backend_said_bye());
}

TEST(StreamFramingTest, LiteralOfLiteral8AndNonSyncForms) {
  StreamFraming f;
  Backend(f, "* 1 FETCH (BINARY[] ~{3}\r\n\r\n* )\r\n");
  EXPECT_EQ(f.backend_position(), StreamPosition::kLineStart);
  Client(f, "a APPEND INBOX {5+}\r\n* BYE\r\n");
  EXPECT_EQ(f.client_position(), StreamPosition::kLineStart);
  Client(f, "b APPEND INBOX {0}\r\n");
  EXPECT_EQ(f.client_position(), StreamPosition::kMidLine);  // the command goes on after {0}
  Client(f, "\r\n");
  EXPECT_EQ(f.client_position(), StreamPosition::kLineStart);
}

TEST(StreamFramingTest, MidLineAndInLiteralRefuseInjection) {
  StreamFraming f;
  Backend(f, "* 1 FETCH (FLAGS");
  EXPECT_EQ(f.backend_position(), StreamPosition::kMidLine);
  EXPECT_EQ(f.FrameInjection("* BYE x\r\n"), "");
  Backend(f, " (\\Seen) BODY[] {10}\r\nabc");
  EXPECT_EQ(f.backend_position(), StreamPosition::kInLiteral);
  EXPECT_EQ(f.FrameInjection("* BYE x\r\n"), "");
  Backend(f, "defghij)\r\n");
  EXPECT_EQ(f.FrameInjection("* BYE x\r\n"), "* BYE x\r\n");
}

TEST(StreamFramingTest, OverlongLiteralLengthLosesTheFraming) {
  StreamFraming f;
  Backend(f, "* 1 FETCH (BODY[] {1234567890123456789}\r\n");
  EXPECT_EQ(f.backend_position(), StreamPosition::kLost);
  Backend(f, "* BYE\r\n");
  EXPECT_FALSE(f.backend_said_bye());
  EXPECT_EQ(f.FrameInjection("* BYE x\r\n"), "");
  StreamFraming g;  // digits longer than the kept tail, no brace in sight
  Backend(g, "* 1 FETCH (BODY[] {" + std::string(40, '9') + "}\r\n");
  EXPECT_EQ(g.backend_position(), StreamPosition::kLost);
}

TEST(StreamFramingTest, LongLinesAreBounded) {
  StreamFraming f;
  std::string huge = "* SEARCH" + std::string(1 << 20, ' ') + "1\r\n";
  Backend(f, huge);
  EXPECT_EQ(f.backend_position(), StreamPosition::kLineStart);
  Backend(f, "* BYE now\r\n");
  EXPECT_TRUE(f.backend_said_bye());
}

TEST(StreamFramingTest, CompressStartsAfterTheTaggedOk) {
  StreamFraming f;
  Backend(f, "a OK Logged in\r\n");
  Client(f, "c COMPRESS DEFLATE\r\n");
  EXPECT_FALSE(f.compressed());
  testing::RawDeflate z;
  std::string first = z.Compress("* 1 EXISTS\r\n", Z_SYNC_FLUSH);
  Backend(f, "c OK Begin compression.\r\n" + first);  // OK and deflate in one read
  EXPECT_TRUE(f.compressed());
  EXPECT_EQ(f.backend_position(), StreamPosition::kCompressedFlush);
  Backend(f, z.Compress("* 2 EXISTS\r\n", Z_PARTIAL_FLUSH));  // ends inside the bit stream
  EXPECT_EQ(f.backend_position(), StreamPosition::kCompressedBlock);
  EXPECT_EQ(f.FrameInjection("* BYE x\r\n"), "");
  Backend(f, z.Compress("", Z_SYNC_FLUSH));
  EXPECT_EQ(f.backend_position(), StreamPosition::kCompressedFlush);
}

TEST(StreamFramingTest, CompressRefusedKeepsThePlainStream) {
  StreamFraming f;
  Client(f, "c compress deflate\r\n");
  Backend(f, "c NO [COMPRESSIONACTIVE] already\r\n* BYE x\r\n");
  EXPECT_FALSE(f.compressed());
  EXPECT_TRUE(f.backend_said_bye());
}

TEST(StreamFramingTest, CompressOnlyAsAWholeCommandLine) {
  StreamFraming f;
  Client(f, "c COMPRESS DEFLATE extra\r\nd SELECT {18}\r\ne COMPRESS DEFLATE\r\n");
  Backend(f, "c OK\r\n");
  EXPECT_FALSE(f.compressed());  // c did not ask; "e COMPRESS" was a literal's payload
  Backend(f, "e OK\r\n");
  EXPECT_FALSE(f.compressed());
}

// Dovecot refuses an APPEND to a missing mailbox before the client sends the literal: the
// client sends its next command instead, and it must be seen as a command.
TEST(StreamFramingTest, ASynchronizingLiteralRefusedByTheServerIsNeverSent) {
  StreamFraming f;
  Client(f, "a APPEND nosuchbox {300}\r\n");
  EXPECT_EQ(f.client_position(), StreamPosition::kInLiteral);
  Backend(f, "a NO [TRYCREATE] Mailbox doesn't exist: nosuchbox\r\n");
  EXPECT_EQ(f.client_position(), StreamPosition::kLineStart);
  Client(f, "c COMPRESS DEFLATE\r\n");
  Backend(f, "c OK Begin compression.\r\n");
  EXPECT_TRUE(f.compressed());
}

TEST(StreamFramingTest, OnlyTheRefusalOfThatCommandCancelsItsLiteral) {
  StreamFraming f;
  Client(f, "a APPEND box {5}\r\n");
  Backend(f, "+ OK\r\nz NO other\r\n");  // continuation, then another tag's refusal
  EXPECT_EQ(f.client_position(), StreamPosition::kInLiteral);
  Client(f, "he");
  Backend(f, "a NO too late\r\n");  // payload already under way: it is sent whole
  EXPECT_EQ(f.client_position(), StreamPosition::kInLiteral);
  Client(f, "llo\r\n");
  EXPECT_EQ(f.client_position(), StreamPosition::kLineStart);
  StreamFraming g;  // a non-synchronizing literal is sent whatever the server says
  Client(g, "a APPEND box {5+}\r\n");
  Backend(g, "a NO refused\r\n");
  EXPECT_EQ(g.client_position(), StreamPosition::kInLiteral);
}

TEST(StreamFramingTest, InjectedStoredBlockDecodesAfterTheServersFlush) {
  StreamFraming f;
  Client(f, "c COMPRESS DEFLATE\r\n");
  Backend(f, "c OK DEFLATE active\r\n");
  testing::RawDeflate z;
  std::string client_reads;
  std::string chunk = z.Compress("* OK still here\r\nd OK Logout\r\n", Z_SYNC_FLUSH);
  Backend(f, chunk);
  client_reads += Inflate(z, chunk);
  std::string inject = f.FrameInjection("* BYE Server shutting down\r\n");
  ASSERT_FALSE(inject.empty());
  client_reads += Inflate(z, inject);
  EXPECT_EQ(client_reads, "* OK still here\r\nd OK Logout\r\n* BYE Server shutting down\r\n");
}

TEST(StreamFramingTest, InjectionRightAfterCompressStartsDecodes) {
  StreamFraming f;
  Client(f, "c COMPRESS DEFLATE\r\n");
  Backend(f, "c OK\r\n");
  std::string inject = f.FrameInjection("* BYE Idle timeout\r\n");
  testing::RawDeflate z;
  EXPECT_EQ(Inflate(z, inject), "* BYE Idle timeout\r\n");
}

}  // namespace
}  // namespace imapgate::imap
