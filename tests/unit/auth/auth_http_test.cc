// The nginx auth_http codec: request headers and answer reading, from nginx's documented
// behaviour (ngx_mail_auth_http_module).
#include "auth/auth_http.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::auth {
namespace {

using Headers = std::vector<std::pair<std::string, SecretString>>;

Headers H(std::initializer_list<std::pair<const char*, const char*>> list) {
  Headers h;
  for (const auto& [n, v] : list) h.emplace_back(n, SecretString(v));
  return h;
}

std::string Names(const Headers& h) {
  std::string out;
  for (const auto& [n, v] : h) out += n + ";";
  return out;
}

std::string Value(const Headers& h, std::string_view name) {
  for (const auto& [n, v] : h) {
    if (n == name) return std::string(v.view());
  }
  return "<none>";
}

TEST(AuthHttpTest, EscapesAsNginx) {
  EXPECT_EQ(AuthHttpEscape("a b%c\r\n\x01\x1f~\x7f\xc3\xa9"), "a%20b%25c%0D%0A%01%1F~\x7f\xc3\xa9");
  EXPECT_EQ(AuthHttpEscape("plain@example.org"), "plain@example.org");
}

TEST(AuthHttpTest, MinimalRequestInNginxOrder) {
  SecretString pass("p w%d");
  AuthHttpQuery q;
  q.method = "plain";
  q.user = "al ice";
  q.pass = &pass;
  q.login_attempt = 2;
  q.client_ip = "192.0.2.42";
  Headers h = BuildAuthHttpHeaders(q);
  EXPECT_EQ(Names(h), "Auth-Method;Auth-User;Auth-Pass;Auth-Protocol;Auth-Login-Attempt;Client-IP;");
  EXPECT_EQ(Value(h, "Auth-Method"), "plain");
  EXPECT_EQ(Value(h, "Auth-User"), "al%20ice");
  EXPECT_EQ(Value(h, "Auth-Pass"), "p%20w%25d");
  EXPECT_EQ(Value(h, "Auth-Protocol"), "imap");
  EXPECT_EQ(Value(h, "Auth-Login-Attempt"), "2");
  EXPECT_EQ(Value(h, "Client-IP"), "192.0.2.42");
}

TEST(AuthHttpTest, FullRequestInNginxOrder) {
  AuthHttpQuery q;
  q.method = "xoauth2";
  q.user = "u";
  q.client_ip = "2001:db8::1";
  q.client_host = "client.example.org";
  q.proxy_protocol_addr = "198.51.100.1";
  q.proxy_protocol_port = "5000";
  q.proxy_protocol_server_addr = "203.0.113.1";
  q.proxy_protocol_server_port = "993";
  q.ssl = true;
  q.ssl_protocol = "TLSv1.3";
  q.ssl_cipher = "TLS_AES_128_GCM_SHA256";
  q.extra_headers = {{"X-Auth-Key", "secret\r\nInjected: yes\x01"}, {"Bad Name:\r\n", "v"}, {"\r\n", "dropped"}};
  Headers h = BuildAuthHttpHeaders(q);
  EXPECT_EQ(Names(h),
            "Auth-Method;Auth-User;Auth-Pass;Auth-Protocol;Auth-Login-Attempt;Client-IP;Client-Host;"
            "Proxy-Protocol-Addr;Proxy-Protocol-Port;Proxy-Protocol-Server-Addr;Proxy-Protocol-Server-Port;"
            "Auth-SSL;Auth-SSL-Protocol;Auth-SSL-Cipher;X-Auth-Key;BadName;");
  EXPECT_EQ(Value(h, "Auth-Pass"), "");
  EXPECT_EQ(Value(h, "Auth-SSL"), "on");
  EXPECT_EQ(Value(h, "X-Auth-Key"), "secretInjected: yes");  // CR LF dropped: no injection
}

TEST(AuthHttpTest, OkWithRouteAndCredentials) {
  AuthHttpAnswer a = ParseAuthHttpAnswer(
      200, H({{"auth-status", "OK"}, {"Auth-Server", "192.0.2.10"}, {"Auth-Port", "143"}, {"Auth-User", "bob%20x"},
              {"Auth-Pass", "s3cret"}}));
  ASSERT_EQ(a.kind, AuthHttpAnswer::Kind::kOk) << a.message;
  EXPECT_EQ(a.server, "192.0.2.10");
  EXPECT_EQ(a.port, 143);
  EXPECT_EQ(a.user, "bob%20x");  // as nginx: taken verbatim, not unescaped
  ASSERT_TRUE(a.pass.has_value());
  EXPECT_EQ(a.pass->view(), "s3cret");
}

TEST(AuthHttpTest, OkWithoutRouteUsesOurRouter) {
  AuthHttpAnswer a = ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}}));
  EXPECT_EQ(a.kind, AuthHttpAnswer::Kind::kOk);
  EXPECT_FALSE(a.server.has_value());
  EXPECT_FALSE(a.port.has_value());
  AuthHttpAnswer v6 = ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}, {"Auth-Server", "2001:db8::5"}, {"Auth-Port", "993"}}));
  EXPECT_EQ(v6.kind, AuthHttpAnswer::Kind::kOk);
}

TEST(AuthHttpTest, FailureTextAndWait) {
  AuthHttpAnswer a = ParseAuthHttpAnswer(
      200, H({{"Auth-Status", "Invalid login or password"}, {"Auth-Wait", "3"}, {"Auth-Error-Code", "535 5.7.8"}}));
  EXPECT_EQ(a.kind, AuthHttpAnswer::Kind::kFail);
  EXPECT_EQ(a.message, "Invalid login or password");
  EXPECT_EQ(a.wait_seconds, 3);
  EXPECT_EQ(a.error_code, "535 5.7.8");
  // "ok" is not "OK": nginx compares exactly, so it is failure text.
  EXPECT_EQ(ParseAuthHttpAnswer(200, H({{"Auth-Status", "ok"}})).kind, AuthHttpAnswer::Kind::kFail);
  // A non-numeric Auth-Wait is ignored, as nginx does.
  EXPECT_FALSE(ParseAuthHttpAnswer(200, H({{"Auth-Status", "no"}, {"Auth-Wait", "x"}})).wait_seconds.has_value());
}

TEST(AuthHttpTest, WaitStatusIsATemporaryFailure) {
  AuthHttpAnswer a = ParseAuthHttpAnswer(200, H({{"Auth-Status", "WAIT"}, {"Auth-Wait", "2"}}));
  EXPECT_EQ(a.kind, AuthHttpAnswer::Kind::kFail);
  EXPECT_EQ(a.wait_seconds, 2);
}

// Bound: the failure text is printable ASCII and at most kMaxAuthMessageBytes.
TEST(AuthHttpTest, FailureTextIsSanitizedAndBounded) {
  std::string longtext(kMaxAuthMessageBytes + 50, 'x');
  AuthHttpAnswer a = ParseAuthHttpAnswer(200, H({{"Auth-Status", longtext.c_str()}}));
  EXPECT_EQ(a.message.size(), kMaxAuthMessageBytes);
  AuthHttpAnswer b = ParseAuthHttpAnswer(200, H({{"Auth-Status", "bad\x01\xc3\xa9"}}));
  EXPECT_EQ(b.message, "bad???");
}

// Bound: Auth-Wait is clamped.
TEST(AuthHttpTest, WaitIsBounded) {
  AuthHttpAnswer a = ParseAuthHttpAnswer(200, H({{"Auth-Status", "no"}, {"Auth-Wait", "999999"}}));
  EXPECT_EQ(a.wait_seconds, kMaxAuthWaitSeconds);
}

// Bound: Auth-User and Auth-Pass at most kMaxAuthUserBytes.
TEST(AuthHttpTest, CredentialsAreBounded) {
  std::string fits(kMaxAuthUserBytes, 'u');
  std::string over(kMaxAuthUserBytes + 1, 'u');
  EXPECT_EQ(ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}, {"Auth-User", fits.c_str()}})).kind,
            AuthHttpAnswer::Kind::kOk);
  EXPECT_EQ(ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}, {"Auth-User", over.c_str()}})).kind,
            AuthHttpAnswer::Kind::kInvalid);
  AuthHttpAnswer p = ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}, {"Auth-Pass", over.c_str()}}));
  EXPECT_EQ(p.kind, AuthHttpAnswer::Kind::kInvalid);
  EXPECT_EQ(p.message.find("uuu"), std::string::npos);
}

TEST(AuthHttpTest, InvalidAnswers) {
  using K = AuthHttpAnswer::Kind;
  EXPECT_EQ(ParseAuthHttpAnswer(500, H({{"Auth-Status", "OK"}})).kind, K::kInvalid);
  EXPECT_EQ(ParseAuthHttpAnswer(200, H({{"Auth-Server", "192.0.2.1"}, {"Auth-Port", "143"}})).kind, K::kInvalid);
  EXPECT_EQ(ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}, {"Auth-Server", "imap.example.org"}, {"Auth-Port", "143"}})).kind,
            K::kInvalid);
  for (const char* port : {"0", "65536", "-1", "14x", "", "000143000"}) {
    EXPECT_EQ(ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}, {"Auth-Server", "192.0.2.1"}, {"Auth-Port", port}})).kind,
              K::kInvalid)
        << port;
  }
  EXPECT_EQ(ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}, {"Auth-Server", "192.0.2.1"}})).kind, K::kInvalid);
  EXPECT_EQ(ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}, {"Auth-Port", "143"}})).kind, K::kInvalid);
}

TEST(AuthHttpTest, InvalidMessagesNeverQuoteValues) {
  AuthHttpAnswer a = ParseAuthHttpAnswer(200, H({{"Auth-Status", "OK"}, {"Auth-Server", "hunter2"}, {"Auth-Port", "1"}}));
  EXPECT_EQ(a.kind, AuthHttpAnswer::Kind::kInvalid);
  EXPECT_EQ(a.message.find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace imapgate::auth
