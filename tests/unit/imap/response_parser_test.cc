#include "imap/response_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::imap {
namespace {

using std::string_literals::operator""s;

TEST(ResponseParserTest, GreetingWithCapabilityCode) {
  ResponseLine r =
      ParseResponseLine("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.");
  EXPECT_EQ(r.kind, ResponseKind::kUntagged);
  EXPECT_EQ(r.status, ResponseStatus::kOk);
  EXPECT_EQ(r.code, "CAPABILITY");
  EXPECT_EQ(r.code_args, "IMAP4rev1 STARTTLS AUTH=PLAIN");
  EXPECT_EQ(r.rest, "Dovecot ready.");
  EXPECT_FALSE(r.ends_with_literal);
}

TEST(ResponseParserTest, UntaggedStatusWords) {
  EXPECT_EQ(ParseResponseLine("* PREAUTH logged in").status, ResponseStatus::kPreAuth);
  ResponseLine bye = ParseResponseLine("* bye Server shutting down");
  EXPECT_EQ(bye.kind, ResponseKind::kUntagged);
  EXPECT_EQ(bye.status, ResponseStatus::kBye);
  EXPECT_EQ(bye.rest, "Server shutting down");
  EXPECT_EQ(ParseResponseLine("* No [ALERT] disk full").code, "ALERT");
  EXPECT_EQ(ParseResponseLine("* OK").kind, ResponseKind::kUntagged);
}

TEST(ResponseParserTest, UntaggedCapability) {
  ResponseLine r = ParseResponseLine("* CAPABILITY IMAP4rev1 IDLE LITERAL+");
  EXPECT_EQ(r.kind, ResponseKind::kUntagged);
  EXPECT_EQ(r.status, ResponseStatus::kOther);
  EXPECT_EQ(r.untagged_name, "CAPABILITY");
  EXPECT_EQ(r.rest, "IMAP4rev1 IDLE LITERAL+");
  EXPECT_EQ(ParseResponseLine("* capability IMAP4rev1").untagged_name, "CAPABILITY");
}

TEST(ResponseParserTest, Continuation) {
  ResponseLine r = ParseResponseLine("+ Ready for literal data");
  EXPECT_EQ(r.kind, ResponseKind::kContinuation);
  EXPECT_EQ(r.rest, "Ready for literal data");
  EXPECT_EQ(ParseResponseLine("+").kind, ResponseKind::kContinuation);
  EXPECT_EQ(ParseResponseLine("+ ").kind, ResponseKind::kContinuation);
  EXPECT_EQ(ParseResponseLine("+x").kind, ResponseKind::kInvalid);
}

TEST(ResponseParserTest, TaggedWithCode) {
  ResponseLine r = ParseResponseLine("a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in");
  EXPECT_EQ(r.kind, ResponseKind::kTagged);
  EXPECT_EQ(r.tag, "a1");
  EXPECT_EQ(r.status, ResponseStatus::kOk);
  EXPECT_EQ(r.code, "CAPABILITY");
  EXPECT_EQ(r.code_args, "IMAP4rev1 IDLE");
  EXPECT_EQ(r.rest, "Logged in");

  r = ParseResponseLine("x2 no [authenticationfailed] Authentication failed.");
  EXPECT_EQ(r.status, ResponseStatus::kNo);
  EXPECT_EQ(r.code, "AUTHENTICATIONFAILED");
  EXPECT_EQ(r.code_args, "");
  EXPECT_EQ(r.rest, "Authentication failed.");

  r = ParseResponseLine("x3 BAD Error in IMAP command");
  EXPECT_EQ(r.status, ResponseStatus::kBad);
  EXPECT_EQ(r.code, "");
  EXPECT_EQ(r.rest, "Error in IMAP command");
}

TEST(ResponseParserTest, LiteralAtEndIsReported) {
  EXPECT_TRUE(ParseResponseLine("* ID (\"name\" {5}").ends_with_literal);
  EXPECT_TRUE(ParseResponseLine("* ID (\"name\" {5+}").ends_with_literal);
  EXPECT_FALSE(ParseResponseLine("* ID (\"name\" {}").ends_with_literal);
  EXPECT_FALSE(ParseResponseLine("* OK x}").ends_with_literal);
}

TEST(ResponseParserTest, GarbageIsInvalid) {
  for (std::string line : {""s,
                           "HTTP/1.1 200 OK"s,
                           "SSH-2.0-OpenSSH_9.2p1 Debian-2"s,
                           "220 mail ESMTP Postfix"s,
                           "+OK POP3 ready"s,
                           "\x16\x03\x01\x02\x00"s,
                           "*"s,
                           "* "s,
                           "*OK hi"s,
                           "a1 BYE x"s,
                           "a1 PREAUTH x"s,
                           "a1 OKAY x"s,
                           "a1"s,
                           "a1 OK [CAPABILITY IMAP4rev1"s,
                           "* OK [] x"s,
                           "* OK x\r\ny"s,
                           "* OK x\0"s,
                           "a(1 OK x"s,
                           "+ab"s,
                           " * OK"s}) {
    EXPECT_EQ(ParseResponseLine(line).kind, ResponseKind::kInvalid) << line;
  }
}

TEST(ResponseParserTest, LongLineIsLinear) {
  std::string line = "* OK [CAPABILITY " + std::string(1 << 20, 'X') + "] hi";
  ResponseLine r = ParseResponseLine(line);
  EXPECT_EQ(r.code_args.size(), 1u << 20);
}

}  // namespace
}  // namespace imapgate::imap
