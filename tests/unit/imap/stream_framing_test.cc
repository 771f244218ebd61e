#include "imap/stream_framing.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace imapgate::imap {
namespace {

void Client(StreamFraming& f, std::string_view s) { f.FromClient(s.data(), s.size()); }
void Backend(StreamFraming& f, std::string_view s) { f.FromBackend(s.data(), s.size()); }

// Feeds `s` one byte at a time (every chunk boundary is exercised).
void BackendBytewise(StreamFraming& f, std::string_view s) {
  for (char c : s) f.FromBackend(&c, 1);
}

// A raw-deflate (RFC 1951, as COMPRESS=DEFLATE uses) compressor and decompressor pair.
class Deflate {
 public:
  Deflate() {
    deflateInit2(&out_, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
    inflateInit2(&in_, -15);
  }
  ~Deflate() {
    deflateEnd(&out_);
    inflateEnd(&in_);
  }
  // Compresses `s` and ends with `flush` (Z_SYNC_FLUSH as servers do, or Z_NO_FLUSH).
  std::string Compress(std::string_view s, int flush) {
    std::string out(s.size() + 1024, '\0');
    out_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    out_.avail_in = static_cast<uInt>(s.size());
    out_.next_out = reinterpret_cast<Bytef*>(out.data());
    out_.avail_out = static_cast<uInt>(out.size());
    EXPECT_NE(deflate(&out_, flush), Z_STREAM_ERROR);
    out.resize(out.size() - out_.avail_out);
    return out;
  }
  // Decompresses what the client would read; fails the test on a corrupt stream.
  std::string Inflate(std::string_view s) {
    std::string out(s.size() * 8 + 1024, '\0');
    in_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    in_.avail_in = static_cast<uInt>(s.size());
    in_.next_out = reinterpret_cast<Bytef*>(out.data());
    in_.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&in_, Z_SYNC_FLUSH);
    EXPECT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << "inflate: " << rc;
    EXPECT_EQ(in_.avail_in, 0u) << "input left over (mbsync asserts on this)";
    out.resize(out.size() - in_.avail_out);
    return out;
  }

 private:
  z_stream out_{};
  z_stream in_{};
};

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
  Deflate z;
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

TEST(StreamFramingTest, InjectedStoredBlockDecodesAfterTheServersFlush) {
  StreamFraming f;
  Client(f, "c COMPRESS DEFLATE\r\n");
  Backend(f, "c OK DEFLATE active\r\n");
  Deflate z;
  std::string client_reads;
  std::string chunk = z.Compress("* OK still here\r\nd OK Logout\r\n", Z_SYNC_FLUSH);
  Backend(f, chunk);
  client_reads += z.Inflate(chunk);
  std::string inject = f.FrameInjection("* BYE Server shutting down\r\n");
  ASSERT_FALSE(inject.empty());
  client_reads += z.Inflate(inject);
  EXPECT_EQ(client_reads, "* OK still here\r\nd OK Logout\r\n* BYE Server shutting down\r\n");
}

TEST(StreamFramingTest, InjectionRightAfterCompressStartsDecodes) {
  StreamFraming f;
  Client(f, "c COMPRESS DEFLATE\r\n");
  Backend(f, "c OK\r\n");
  std::string inject = f.FrameInjection("* BYE Idle timeout\r\n");
  Deflate z;
  EXPECT_EQ(z.Inflate(inject), "* BYE Idle timeout\r\n");
}

}  // namespace
}  // namespace imapgate::imap
