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


// --- LOGIN mechanism -------------------------------------------------------------------------

TEST(SaslTest, LoginChallengesAreUsernameAndPassword) {
  EXPECT_EQ(Decoded(kSaslLoginUserChallenge), "Username:");
  EXPECT_EQ(Decoded(kSaslLoginPasswordChallenge), "Password:");
}

TEST(SaslTest, LoginFieldRulesAndBound) {
  auto f = ParseSaslLoginField("alice", kMaxSaslUserBytes);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->view(), "alice");
  EXPECT_FALSE(ParseSaslLoginField("", kMaxSaslUserBytes));
  EXPECT_FALSE(ParseSaslLoginField("al\0ice"s, kMaxSaslUserBytes));
  EXPECT_TRUE(ParseSaslLoginField(std::string(1024, 'x'), 1024).has_value());
  EXPECT_FALSE(ParseSaslLoginField(std::string(1025, 'x'), 1024).has_value());
}

TEST(SaslTest, SupportedMechanisms) {
  for (const char* m : {"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"}) EXPECT_TRUE(IsSupportedSaslMechanism(m)) << m;
  for (const char* m : {"plain", "CRAM-MD5", "GSSAPI", "", "SCRAM-SHA-256"}) {
    EXPECT_FALSE(IsSupportedSaslMechanism(m)) << m;
  }
}

// --- XOAUTH2 -------------------------------------------------------------------------------

std::string Xoauth2(std::string_view user, std::string_view auth) {
  return "user="s + std::string(user) + "\x01" + std::string(auth) + "\x01\x01";
}

TEST(SaslTest, Xoauth2Parses) {
  auto c = ParseXoauth2(Xoauth2("alice@example.com", "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg=="));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user.view(), "alice@example.com");
  EXPECT_EQ(c->token.view(), "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==");
  c = ParseXoauth2(Xoauth2("bob", "auth=bearer t0k-_~+/"));  // scheme is case-insensitive
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->token.view(), "t0k-_~+/");
}

TEST(SaslTest, Xoauth2RejectsMalformedMessages) {
  EXPECT_FALSE(ParseXoauth2(""));
  EXPECT_FALSE(ParseXoauth2(Xoauth2("alice", "auth=Basic dXNlcjpwdw==")));   // not Bearer
  EXPECT_FALSE(ParseXoauth2(Xoauth2("alice", "auth=Bearer")));                // no token
  EXPECT_FALSE(ParseXoauth2(Xoauth2("alice", "auth=Bearer ")));               // empty token
  EXPECT_FALSE(ParseXoauth2(Xoauth2("alice", "auth=Bearer  tok")));           // two spaces
  EXPECT_FALSE(ParseXoauth2(Xoauth2("alice", "auth=Bearer to=k")));           // '=' inside
  EXPECT_FALSE(ParseXoauth2(Xoauth2("alice", "Bearer tok")));                 // missing auth=
  EXPECT_FALSE(ParseXoauth2(Xoauth2("", "auth=Bearer tok")));                 // empty user
  EXPECT_FALSE(ParseXoauth2(Xoauth2("ali\0ce"s, "auth=Bearer tok")));         // NUL in user
  EXPECT_FALSE(ParseXoauth2(Xoauth2("alice", "auth=Bearer to\0k"s)));         // NUL in token
  EXPECT_FALSE(ParseXoauth2(Xoauth2("alice", "auth=Bearer tok\x01x=y")));     // a third field
  EXPECT_FALSE(ParseXoauth2("user=alice\x01" "auth=Bearer tok\x01"s));        // one final ^A
  EXPECT_FALSE(ParseXoauth2("user=alice\x01" "auth=Bearer tok"s));            // none
  EXPECT_FALSE(ParseXoauth2("auth=Bearer tok\x01user=alice\x01\x01"s));       // wrong order
  EXPECT_FALSE(ParseXoauth2("USER=alice\x01" "auth=Bearer tok\x01\x01"s));
}

TEST(SaslTest, Xoauth2FieldBounds) {
  const std::string user1024(1024, 'u'), user1025(1025, 'u');
  const std::string token4096(4096, 't'), token4097(4097, 't');
  EXPECT_TRUE(ParseXoauth2(Xoauth2(user1024, "auth=Bearer " + token4096)).has_value());
  EXPECT_FALSE(ParseXoauth2(Xoauth2(user1025, "auth=Bearer tok")).has_value());
  EXPECT_FALSE(ParseXoauth2(Xoauth2("alice", "auth=Bearer " + token4097)).has_value());
}

TEST(SaslTest, Xoauth2EncodeRoundTrips) {
  SecretString b64 = EncodeXoauth2("alice", "tok.en");
  EXPECT_EQ(b64.view(), EncodeBase64("user=alice\x01" "auth=Bearer tok.en\x01\x01"s));
  auto decoded = DecodeBase64(b64.view(), kMaxSaslMessageBytes);
  ASSERT_TRUE(decoded.has_value());
  auto c = ParseXoauth2(decoded->view());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user.view(), "alice");
  EXPECT_EQ(c->token.view(), "tok.en");
}

// --- OAUTHBEARER (RFC 7628) ---------------------------------------------------------------

TEST(SaslTest, OauthBearerParsesTheRfcExample) {
  // RFC 7628 §4.1, with the port and host pairs.
  const std::string msg =
      "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
      "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"s;
  auto c = ParseOauthBearer(msg);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->authzid.view(), "user@example.com");
  EXPECT_EQ(c->user.view(), "user@example.com");
  ASSERT_TRUE(c->host.has_value());
  EXPECT_EQ(*c->host, "server.example.com");
  ASSERT_TRUE(c->port.has_value());
  EXPECT_EQ(*c->port, 143);
  EXPECT_EQ(c->token.view(), "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
}

TEST(SaslTest, OauthBearerMinimalAndEscapes) {
  auto c = ParseOauthBearer("y,a=a=2Cb=3Dc,\x01" "auth=Bearer tok\x01\x01"s);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user.view(), "a,b=c");
  EXPECT_FALSE(c->host.has_value());
  EXPECT_FALSE(c->port.has_value());
  // Unknown keys are allowed (and ignored).
  EXPECT_TRUE(ParseOauthBearer("n,a=u,\x01" "mfa=x y\x01" "auth=Bearer tok\x01\x01"s).has_value());
}

TEST(SaslTest, OauthBearerRejectsBadGs2Headers) {
  const std::string tail = "\x01" "auth=Bearer tok\x01\x01"s;
  EXPECT_FALSE(ParseOauthBearer("p=tls-unique,a=u," + tail));  // channel binding requested
  EXPECT_FALSE(ParseOauthBearer("x,a=u," + tail));
  EXPECT_FALSE(ParseOauthBearer("n,,"s + tail));                // no authzid: no user
  EXPECT_FALSE(ParseOauthBearer("n,a=," + tail));               // empty authzid
  EXPECT_FALSE(ParseOauthBearer("n,u=alice," + tail));
  EXPECT_FALSE(ParseOauthBearer("n,a=u" + tail));               // header not closed
  EXPECT_FALSE(ParseOauthBearer("na=u," + tail));
  EXPECT_FALSE(ParseOauthBearer("n,a=a=2Xb," + tail));          // bad escape
  EXPECT_FALSE(ParseOauthBearer("n,a=a=2," + tail));            // truncated escape
  EXPECT_FALSE(ParseOauthBearer("n,a=a\0b,"s + tail));          // NUL
  EXPECT_FALSE(ParseOauthBearer(""));
  EXPECT_FALSE(ParseOauthBearer("\x01"));                       // the error acknowledgement
}

TEST(SaslTest, OauthBearerRejectsBadPairs) {
  const std::string head = "n,a=u,\x01"s;
  EXPECT_TRUE(ParseOauthBearer(head + "auth=Bearer tok\x01\x01").has_value());
  EXPECT_FALSE(ParseOauthBearer(head + "\x01"));                               // no auth
  EXPECT_FALSE(ParseOauthBearer(head + "host=h\x01\x01"));                     // no auth
  EXPECT_FALSE(ParseOauthBearer(head + "auth=Basic dTpw\x01\x01"));            // not Bearer
  EXPECT_FALSE(ParseOauthBearer(head + "auth=Bearer tok\x01"));                // one final ^A
  EXPECT_FALSE(ParseOauthBearer(head + "auth=Bearer tok\x01" "auth=Bearer t2\x01\x01"));  // twice
  EXPECT_FALSE(ParseOauthBearer(head + "port=70000\x01" "auth=Bearer tok\x01\x01"));
  EXPECT_FALSE(ParseOauthBearer(head + "port=14a\x01" "auth=Bearer tok\x01\x01"));
  EXPECT_FALSE(ParseOauthBearer(head + "port=\x01" "auth=Bearer tok\x01\x01"));
  EXPECT_FALSE(ParseOauthBearer(head + "ho-st=h\x01" "auth=Bearer tok\x01\x01"));  // key not ALPHA
  EXPECT_FALSE(ParseOauthBearer(head + "=h\x01" "auth=Bearer tok\x01\x01"));      // empty key
  EXPECT_FALSE(ParseOauthBearer(head + "host\x01" "auth=Bearer tok\x01\x01"));    // no '='
  EXPECT_FALSE(ParseOauthBearer(head + "x=\x7f\x01" "auth=Bearer tok\x01\x01"));  // not VCHAR
  EXPECT_FALSE(ParseOauthBearer("n,a=u,auth=Bearer tok\x01\x01"s));            // no ^A after header
}

TEST(SaslTest, OauthBearerFieldBounds) {
  auto with = [](const std::string& authzid, const std::string& pairs) {
    return ParseOauthBearer("n,a=" + authzid + ",\x01" + pairs + "\x01");
  };
  const std::string auth = "auth=Bearer tok\x01"s;
  EXPECT_TRUE(with(std::string(1024, 'u'), auth).has_value());
  EXPECT_FALSE(with(std::string(1025, 'u'), auth).has_value());
  EXPECT_TRUE(with("u", "auth=Bearer " + std::string(4096, 't') + "\x01").has_value());
  EXPECT_FALSE(with("u", "auth=Bearer " + std::string(4097, 't') + "\x01").has_value());
  EXPECT_TRUE(with("u", "host=" + std::string(255, 'h') + "\x01" + auth).has_value());
  EXPECT_FALSE(with("u", "host=" + std::string(256, 'h') + "\x01" + auth).has_value());
  EXPECT_TRUE(with("u", "port=65535\x01" + auth).has_value());
  EXPECT_FALSE(with("u", "port=065535\x01" + auth).has_value());  // more than 5 digits
  std::string seven, eight;
  for (int i = 0; i < 7; ++i) seven += "x=y\x01";
  eight = seven + "x=y\x01";
  EXPECT_TRUE(with("u", seven + auth).has_value());    // 8 pairs with auth
  EXPECT_FALSE(with("u", eight + auth).has_value());   // 9
  EXPECT_TRUE(with("u", "x=" + std::string(4103, 'v') + "\x01" + auth).has_value());
  EXPECT_FALSE(with("u", "x=" + std::string(4104, 'v') + "\x01" + auth).has_value());
}

TEST(SaslTest, OauthBearerEncodeRoundTrips) {
  SecretString b64 = EncodeOauthBearer("a,b=c", "tok");
  auto decoded = DecodeBase64(b64.view(), kMaxSaslMessageBytes);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->view(), "n,a=a=2Cb=3Dc,\x01" "auth=Bearer tok\x01\x01"s);
  auto c = ParseOauthBearer(decoded->view());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user.view(), "a,b=c");
  EXPECT_EQ(c->token.view(), "tok");
}

// Every mechanism's largest message still fits the decoder's bound used by the frontend.
TEST(SaslTest, MessageBoundFitsTheLargestMessages) {
  const std::string x = Xoauth2(std::string(1024, 'u'), "auth=Bearer " + std::string(4096, 't'));
  EXPECT_LE(x.size(), kMaxSaslMessageBytes);
  EXPECT_LE(3 * 1024 + 2, kMaxSaslMessageBytes);  // PLAIN
}

}  // namespace
}  // namespace imapgate::imap
