#include "imap/response.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::imap {
namespace {

using std::string_literals::operator""s;

TEST(ResponseTest, Tagged) {
  EXPECT_EQ(Tagged("a1", "OK", "[CAPABILITY IMAP4rev1] Logged in"),
            "a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
  EXPECT_EQ(Tagged("*", "BAD", "Invalid tag"), "* BAD Invalid tag\r\n");
}

TEST(ResponseTest, Untagged) { EXPECT_EQ(Untagged("BYE Logging out"), "* BYE Logging out\r\n"); }

TEST(ResponseTest, LineBreaksCannotBeInjected) {
  EXPECT_EQ(Tagged("a", "OK", "x\r\nb OK y"), "a OK x  b OK y\r\n");
  EXPECT_EQ(Untagged("x\ny"), "* x y\r\n");
}

TEST(ResponseTest, QuoteOrNil) {
  EXPECT_EQ(QuoteOrNil("imapgate"), "\"imapgate\"");
  EXPECT_EQ(QuoteOrNil(""), "\"\"");
  EXPECT_EQ(QuoteOrNil("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteOrNil("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  EXPECT_EQ(QuoteOrNil("a\rb"), "NIL");
  EXPECT_EQ(QuoteOrNil("a\nb"), "NIL");
  EXPECT_EQ(QuoteOrNil("a\0b"s), "NIL");
  EXPECT_EQ(QuoteOrNil("\xFF"), "NIL");
  EXPECT_EQ(QuoteOrNil(std::string(1024, 'x')), "\"" + std::string(1024, 'x') + "\"");
  EXPECT_EQ(QuoteOrNil(std::string(1025, 'x')), "NIL");
}

}  // namespace
}  // namespace imapgate::imap
