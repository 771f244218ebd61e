// HttpResponseParser: pure tests (no sockets).
#include "httpc/http_response_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::httpc {
namespace {

using State = HttpResponseParser::State;

State FeedAll(HttpResponseParser& p, std::string_view in, size_t* used = nullptr) {
  size_t n = 0;
  State s = p.Feed(in, &n);
  if (used) *used = n;
  return s;
}

std::string HeaderValue(const HttpResponseParser& p, std::string_view name) {
  for (const auto& [n, v] : p.headers()) {
    if (n == name) return std::string(v.view());
  }
  return "<none>";
}

TEST(HttpResponseParserTest, ContentLengthResponse) {
  HttpResponseParser p;
  std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nAuth-Status: OK\r\n\r\nhello";
  size_t used = 0;
  ASSERT_EQ(FeedAll(p, in, &used), State::kDone);
  EXPECT_EQ(used, in.size());
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.body(), "hello");
  EXPECT_EQ(HeaderValue(p, "Auth-Status"), "OK");
  EXPECT_TRUE(p.keep_alive());
}

TEST(HttpResponseParserTest, ByteByByteGivesTheSameAnswer) {
  std::string in = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nT: 1\r\n\r\n";
  HttpResponseParser p;
  State s = State::kNeedMore;
  for (size_t i = 0; i < in.size(); ++i) {
    size_t used = 0;
    s = p.Feed(std::string_view(&in[i], 1), &used);
    ASSERT_EQ(used, 1u) << i;
  }
  ASSERT_EQ(s, State::kDone);
  EXPECT_EQ(p.status(), 201);
  EXPECT_EQ(p.body(), "abcde");
}

TEST(HttpResponseParserTest, StopsAtTheEndOfTheResponse) {
  HttpResponseParser p;
  std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
  size_t used = 0;
  ASSERT_EQ(FeedAll(p, in, &used), State::kDone);
  EXPECT_EQ(used, in.size() - 5);
}

TEST(HttpResponseParserTest, HeaderNamesAreCaseInsensitiveForFraming) {
  HttpResponseParser p;
  ASSERT_EQ(FeedAll(p, "HTTP/1.1 200 OK\r\ncontent-LENGTH: 1\r\nconnection: CLOSE\r\n\r\nx"), State::kDone);
  EXPECT_EQ(p.body(), "x");
  EXPECT_FALSE(p.keep_alive());
}

TEST(HttpResponseParserTest, NoBodyFor204And304AndHead) {
  for (const char* line : {"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
                           "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"}) {
    HttpResponseParser p;
    EXPECT_EQ(FeedAll(p, line), State::kDone) << line;
    EXPECT_TRUE(p.body().empty());
  }
  HttpResponseParser head({}, /*head_request=*/true);
  EXPECT_EQ(FeedAll(head, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"), State::kDone);
}

TEST(HttpResponseParserTest, InterimResponseIsSkipped) {
  HttpResponseParser p;
  ASSERT_EQ(FeedAll(p, "HTTP/1.1 100 Continue\r\nX: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            State::kDone);
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(HeaderValue(p, "X"), "<none>");
}

TEST(HttpResponseParserTest, BodyUntilCloseForHttp10) {
  HttpResponseParser p;
  EXPECT_EQ(FeedAll(p, "HTTP/1.0 200 OK\r\n\r\nsome body"), State::kNeedMore);
  EXPECT_EQ(p.Finish(), State::kDone);
  EXPECT_EQ(p.body(), "some body");
  EXPECT_FALSE(p.keep_alive());
}

TEST(HttpResponseParserTest, KeepAliveRules) {
  struct Case {
    const char* head;
    bool keep;
  } cases[] = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.1 200 OK\r\nConnection: foo, Close\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false},
      {"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", true},
  };
  for (const auto& c : cases) {
    HttpResponseParser p;
    ASSERT_EQ(FeedAll(p, c.head), State::kDone) << c.head;
    EXPECT_EQ(p.keep_alive(), c.keep) << c.head;
  }
}

TEST(HttpResponseParserTest, TruncatedResponseIsAnError) {
  HttpResponseParser p;
  EXPECT_EQ(FeedAll(p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), State::kNeedMore);
  EXPECT_EQ(p.Finish(), State::kError);
  EXPECT_EQ(p.error(), HttpResponseParser::Error::kTruncated);
  HttpResponseParser empty;
  EXPECT_FALSE(empty.started());
  EXPECT_EQ(empty.Finish(), State::kError);
}

TEST(HttpResponseParserTest, MalformedInputsAreRefused) {
  const char* bad[] = {
      "HTTP/2.0 200 OK\r\n\r\n",
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 200OK\r\n\r\n",
      "HTTP/1.1 099 X\r\n\r\n",
      "HTTP/1.1 101 Switching\r\n\r\n",
      "ICY 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: a\r\n\r\n",
      "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
  };
  for (const char* in : bad) {
    HttpResponseParser p;
    EXPECT_EQ(FeedAll(p, in), State::kError) << in;
    EXPECT_EQ(p.error(), HttpResponseParser::Error::kMalformed) << in;
  }
}

TEST(HttpResponseParserTest, ErrorMessagesNeverQuoteHeaderValues) {
  HttpResponseParser p;
  EXPECT_EQ(FeedAll(p, "HTTP/1.1 200 OK\r\nAuth-Pass: hunter2\r\nContent-Length: hunter2\r\n\r\n"), State::kError);
  EXPECT_EQ(p.error_message().find("hunter2"), std::string::npos);
}

// Bound: status line plus headers in max_header_bytes.
TEST(HttpResponseParserTest, HeaderBytesBound) {
  HttpResponseLimits limits;
  limits.max_header_bytes = 64;
  std::string head = "HTTP/1.1 200 OK\r\nX: ";
  std::string fits = head + std::string(64 - head.size() - 4, 'a') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 64u);
  HttpResponseParser ok(limits);
  EXPECT_EQ(FeedAll(ok, fits + ""), State::kNeedMore);  // headers complete, body until close
  EXPECT_EQ(ok.Finish(), State::kDone);
  HttpResponseParser over(limits);
  EXPECT_EQ(FeedAll(over, head + std::string(64 - head.size() - 3, 'a') + "\r\n\r\n"), State::kError);
  EXPECT_EQ(over.error(), HttpResponseParser::Error::kTooLarge);
  // Without a line end, the bound still holds.
  HttpResponseParser endless(limits);
  EXPECT_EQ(FeedAll(endless, std::string(100, 'H')), State::kError);
  EXPECT_EQ(endless.error(), HttpResponseParser::Error::kTooLarge);
}

// The header bound counts each byte once, however the input is split.
TEST(HttpResponseParserTest, HeaderBytesBoundDoesNotDependOnTheSplit) {
  HttpResponseLimits limits;
  limits.max_header_bytes = 64;
  std::string in = "HTTP/1.1 200 OK\r\nX: " + std::string(30, 'a') + "\r\nContent-Length: 0\r\n\r\n";
  ASSERT_GT(in.size(), 64u);
  std::string fits = "HTTP/1.1 200 OK\r\nX: " + std::string(40, 'a') + "\r\n\r\n";
  ASSERT_EQ(fits.size(), 64u);
  for (size_t split = 1; split < fits.size(); ++split) {
    HttpResponseParser p(limits);
    size_t used = 0;
    ASSERT_EQ(p.Feed(std::string_view(fits).substr(0, split), &used), State::kNeedMore) << split;
    EXPECT_EQ(p.Feed(std::string_view(fits).substr(split), &used), State::kNeedMore) << split;
    EXPECT_EQ(p.Finish(), State::kDone) << split;
  }
}

// Bound: at most max_header_count headers.
TEST(HttpResponseParserTest, HeaderCountBound) {
  HttpResponseLimits limits;
  limits.max_header_count = 3;
  std::string three = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n";
  HttpResponseParser ok(limits);
  EXPECT_EQ(FeedAll(ok, three), State::kDone);
  HttpResponseParser over(limits);
  EXPECT_EQ(FeedAll(over, "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n"), State::kError);
  EXPECT_EQ(over.error(), HttpResponseParser::Error::kTooLarge);
}

// Bound: body at most max_body_bytes, for each framing.
TEST(HttpResponseParserTest, BodyBytesBound) {
  HttpResponseLimits limits;
  limits.max_body_bytes = 4;
  HttpResponseParser fits(limits);
  EXPECT_EQ(FeedAll(fits, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"), State::kDone);
  HttpResponseParser length(limits);
  EXPECT_EQ(FeedAll(length, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), State::kError);
  EXPECT_EQ(length.error(), HttpResponseParser::Error::kTooLarge);
  HttpResponseParser chunked(limits);
  EXPECT_EQ(FeedAll(chunked, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\n"), State::kError);
  EXPECT_EQ(chunked.error(), HttpResponseParser::Error::kTooLarge);
  HttpResponseParser chunked_fits(limits);
  EXPECT_EQ(FeedAll(chunked_fits, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n"),
            State::kDone);
  HttpResponseParser close(limits);
  EXPECT_EQ(FeedAll(close, "HTTP/1.0 200 OK\r\n\r\nabcde"), State::kError);
  EXPECT_EQ(close.error(), HttpResponseParser::Error::kTooLarge);
}

}  // namespace
}  // namespace imapgate::httpc
