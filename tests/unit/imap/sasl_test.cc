#include "imap/sasl.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::imap {
namespace {

using std::string_literals::operator""s;

std::string Decoded(std::string_view text, size_t max = 4096) {
  std::optional<SecretString> out = DecodeBase64(text, max);
  EXPECT_TRUE(out.has_value()) << text;
  return out ? std::string(out->view()) : std::string();
}

bool Rejected(std::string_view text, size_t max = 4096) {
  return !DecodeBase64(text, max).has_value();
}

TEST(SaslTest, Base64RoundTrip) {
  for (std::string s : {""s, "f"s, "fo"s, "foo"s, "foob"s, "fooba"s, "foobar"s, "\0\xff\x80"s}) {
    EXPECT_EQ(Decoded(EncodeBase64(s)), s);
  }
  EXPECT_EQ(EncodeBase64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(EncodeBase64("fo"), "Zm8=");
  EXPECT_EQ(EncodeBase64("f"), "Zg==");
}

TEST(SaslTest, Base64RejectsWhitespaceAndBadCharacters) {
  EXPECT_TRUE(Rejected("Zm9v YmFy"));
  EXPECT_TRUE(Rejected("Zm9v\r\nYmFy"));
  EXPECT_TRUE(Rejected("Zm9vYmF5-"));
  EXPECT_TRUE(Rejected("Zm9_"));
  EXPECT_TRUE(Rejected("Zm9v\0mFy"s));
}

TEST(SaslTest, Base64RequiresCorrectPadding) {
  EXPECT_TRUE(Rejected("Zm8"));  // missing padding
  EXPECT_TRUE(Rejected("Zg="));  // short padding
  EXPECT_TRUE(Rejected("Zg"));
  EXPECT_TRUE(Rejected("Z==="));  // too much padding
  EXPECT_TRUE(Rejected("===="));
  EXPECT_TRUE(Rejected("="));         // the SASL "empty" marker is not base64
  EXPECT_TRUE(Rejected("Zg==Zg=="));  // padding in the middle
  EXPECT_TRUE(Rejected("Z=g="));
  EXPECT_TRUE(Rejected("Zh=="));  // non-zero pad bits (non-canonical)
  EXPECT_TRUE(Rejected("Zm9="));
  EXPECT_EQ(Decoded(""), "");
}

TEST(SaslTest, Base64SizeBound) {
  EXPECT_EQ(Decoded("Zm9vYmFy", 6), "foobar");
  EXPECT_TRUE(Rejected("Zm9vYmFy", 5));
  EXPECT_EQ(Decoded("Zm9vYg==", 4), "foob");
  EXPECT_TRUE(Rejected("Zm9vYg==", 3));
  // A huge input is refused from its length alone (the bound is checked before decoding).
  EXPECT_TRUE(Rejected(std::string(4 * 1024 * 1024, 'A'), 1024));
}

TEST(SaslTest, PlainWithAndWithoutAuthzid) {
  auto c = ParseSaslPlain("\0alice\0secret"s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->authzid.view(), "");
  EXPECT_EQ(c->authcid.view(), "alice");
  EXPECT_EQ(c->password.view(), "secret");
  c = ParseSaslPlain("admin\0alice\0pw"s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->authzid.view(), "admin");
}

TEST(SaslTest, PlainFromBase64) {
  auto decoded = DecodeBase64(EncodeBase64("\0alice\0secret"s), 4096);
  ASSERT_TRUE(decoded.has_value());
  auto c = ParseSaslPlain(decoded->view());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->password.view(), "secret");
}

TEST(SaslTest, PlainRejectsMalformedMessages) {
  EXPECT_FALSE(ParseSaslPlain(""));
  EXPECT_FALSE(ParseSaslPlain("alice"));
  EXPECT_FALSE(ParseSaslPlain("\0alice"s));            // one NUL
  EXPECT_FALSE(ParseSaslPlain("\0alice\0sec\0ret"s));  // NUL in password
  EXPECT_FALSE(ParseSaslPlain("\0\0secret"s));         // empty authcid
  EXPECT_FALSE(ParseSaslPlain("\0alice\0"s));          // empty password
  EXPECT_FALSE(ParseSaslPlain("\0\0"s));
}

TEST(SaslTest, PlainFieldBounds) {
  const std::string k1024(1024, 'x'), k1025(1025, 'x');
  EXPECT_TRUE(ParseSaslPlain(k1024 + '\0' + k1024 + '\0' + k1024).has_value());
  EXPECT_FALSE(ParseSaslPlain(k1025 + '\0' + "a" + '\0' + "p").has_value());
  EXPECT_FALSE(ParseSaslPlain("\0"s + k1025 + '\0' + "p").has_value());
  EXPECT_FALSE(ParseSaslPlain("\0a\0"s + k1025).has_value());
}

}  // namespace
}  // namespace imapgate::imap
