#include "imap/syntax.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::imap::syntax {
namespace {

using std::string_literals::operator""s;

TEST(SyntaxTest, AtomChars) {
  for (char c : std::string("()%*\"\\] {\x7f\x01")) EXPECT_FALSE(IsAtomChar(c)) << int(c);
  for (char c : std::string("aZ09+-./:;<=>?@[^_`|}~!#$&'")) EXPECT_TRUE(IsAtomChar(c)) << c;
  EXPECT_FALSE(IsAtomChar(0x80));
  EXPECT_TRUE(IsAstringChar(']'));
}

TEST(SyntaxTest, TagChars) {
  EXPECT_TRUE(IsTagChar(']'));
  EXPECT_FALSE(IsTagChar('+'));
  EXPECT_FALSE(IsTagChar('*'));
  EXPECT_TRUE(IsTagChar('.'));
}

TEST(SyntaxTest, Utf8) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xC0\x80"));          // overlong NUL
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xBF"));              // lone continuation
}

TEST(SyntaxTest, CaseHelpers) {
  EXPECT_EQ(AsciiUpper("Login\xC3\xA9"), "LOGIN\xC3\xA9");
  EXPECT_TRUE(EqualsIgnoreCase("StartTLS", "STARTTLS"));
  EXPECT_FALSE(EqualsIgnoreCase("STARTTLS", "STARTTL"));
}

TEST(SyntaxTest, LeadingTag) {
  EXPECT_EQ(LeadingTag("a1 LOGIN", 64), "a1");
  EXPECT_EQ(LeadingTag("a1", 64), "");
  EXPECT_EQ(LeadingTag("abc LOGIN", 2), "");
  EXPECT_EQ(LeadingTag("+ x", 64), "");
}

}  // namespace
}  // namespace imapgate::imap::syntax
