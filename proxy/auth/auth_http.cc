#include "auth/auth_http.h"
#include "common/ascii.h"

#include <arpa/inet.h>

#include <string_view>

namespace imapgate::auth {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }


// A header value that is not a credential: control bytes (CR, LF, NUL, ...; not tab) and DEL
// are dropped, so no value can end its header line or carry bytes HTTP does not allow.
std::string Plain(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 0x20 && u != 0x7f) || c == '\t') out.push_back(c);
  }
  return out;
}

// A header name: only token bytes are kept (no space, tab, ':' or control byte).
std::string Token(std::string_view v) {
  std::string out;
  for (char c : v) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos);
    if (ok) out.push_back(c);
  }
  return out;
}

// Printable ASCII only (other bytes become '?'), at most `max` bytes.
std::string Sanitize(std::string_view v, size_t max) {
  std::string out;
  for (char c : v.substr(0, max)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  return out;
}

bool IsIpLiteral(std::string_view v) {
  std::string s(v);
  in_addr a4;
  in6_addr a6;
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

// Digits only, at most `max_digits`; nullopt otherwise.
std::optional<long> Number(std::string_view v, size_t max_digits) {
  if (v.empty() || v.size() > max_digits) return std::nullopt;
  long n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

AuthHttpAnswer Invalid(std::string why) {
  AuthHttpAnswer a;
  a.kind = AuthHttpAnswer::Kind::kInvalid;
  a.message = std::move(why);
  return a;
}

}  // namespace

std::string AuthHttpEscape(std::string_view in) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (char ch : in) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x1f || c == ' ' || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::vector<std::pair<std::string, SecretString>> BuildAuthHttpHeaders(const AuthHttpQuery& q) {
  std::vector<std::pair<std::string, SecretString>> h;
  auto add = [&h](const char* name, std::string_view value) { h.emplace_back(name, SecretString(value)); };
  add("Auth-Method", Plain(q.method));
  add("Auth-User", AuthHttpEscape(q.user));
  {
    std::string escaped = AuthHttpEscape(q.pass ? q.pass->view() : std::string_view());
    add("Auth-Pass", escaped);
    SecureWipe(escaped.data(), escaped.size());
  }
  add("Auth-Protocol", Plain(q.protocol));
  add("Auth-Login-Attempt", std::to_string(q.login_attempt));
  add("Client-IP", Plain(q.client_ip));
  if (!q.client_host.empty()) add("Client-Host", Plain(q.client_host));
  if (!q.proxy_protocol_addr.empty()) add("Proxy-Protocol-Addr", Plain(q.proxy_protocol_addr));
  if (!q.proxy_protocol_port.empty()) add("Proxy-Protocol-Port", Plain(q.proxy_protocol_port));
  if (!q.proxy_protocol_server_addr.empty()) add("Proxy-Protocol-Server-Addr", Plain(q.proxy_protocol_server_addr));
  if (!q.proxy_protocol_server_port.empty()) add("Proxy-Protocol-Server-Port", Plain(q.proxy_protocol_server_port));
  if (q.ssl) {
    add("Auth-SSL", "on");
    if (!q.ssl_protocol.empty()) add("Auth-SSL-Protocol", Plain(q.ssl_protocol));
    if (!q.ssl_cipher.empty()) add("Auth-SSL-Cipher", Plain(q.ssl_cipher));
  }
  for (const auto& [name, value] : q.extra_headers) {
    std::string token = Token(name);
    if (!token.empty()) h.emplace_back(std::move(token), SecretString(Plain(value)));
  }
  return h;
}

AuthHttpAnswer ParseAuthHttpAnswer(int http_status, const std::vector<std::pair<std::string, SecretString>>& headers) {
  if (http_status != 200) return Invalid("auth service answered HTTP " + std::to_string(http_status));
  const SecretString* status = nullptr;
  const SecretString* server = nullptr;
  const SecretString* port = nullptr;
  const SecretString* user = nullptr;
  const SecretString* pass = nullptr;
  const SecretString* wait = nullptr;
  const SecretString* code = nullptr;
  // As nginx: the last occurrence of a header wins.
  for (const auto& [name, value] : headers) {
    if (AsciiEqualsIgnoreCase(name, "Auth-Status")) status = &value;
    else if (AsciiEqualsIgnoreCase(name, "Auth-Server")) server = &value;
    else if (AsciiEqualsIgnoreCase(name, "Auth-Port")) port = &value;
    else if (AsciiEqualsIgnoreCase(name, "Auth-User")) user = &value;
    else if (AsciiEqualsIgnoreCase(name, "Auth-Pass")) pass = &value;
    else if (AsciiEqualsIgnoreCase(name, "Auth-Wait")) wait = &value;
    else if (AsciiEqualsIgnoreCase(name, "Auth-Error-Code")) code = &value;
  }
  if (status == nullptr) return Invalid("auth service sent no Auth-Status");
  AuthHttpAnswer a;
  if (server != nullptr) {
    if (!IsIpLiteral(server->view())) return Invalid("auth service sent an Auth-Server that is not an IP address");
    a.server = std::string(server->view());
  }
  if (port != nullptr) {
    auto n = Number(port->view(), 5);
    if (!n || *n < 1 || *n > 65535) return Invalid("auth service sent an invalid Auth-Port");
    a.port = static_cast<uint16_t>(*n);
  }
  if (a.server.has_value() != a.port.has_value()) {
    return Invalid("auth service sent Auth-Server without Auth-Port or the reverse");
  }
  if (user != nullptr) {
    if (user->size() > kMaxAuthUserBytes) return Invalid("auth service sent an oversized Auth-User");
    a.user = std::string(user->view());
  }
  if (pass != nullptr) {
    if (pass->size() > kMaxAuthUserBytes) return Invalid("auth service sent an oversized Auth-Pass");
    a.pass = SecretString(pass->view());
  }
  if (wait != nullptr) {
    // nginx ignores a value that is not a number.
    auto n = Number(wait->view(), 9);
    if (n) a.wait_seconds = static_cast<int>(*n > kMaxAuthWaitSeconds ? kMaxAuthWaitSeconds : *n);
  }
  if (code != nullptr) a.error_code = Sanitize(code->view(), kMaxAuthErrorCodeBytes);
  std::string_view s = status->view();
  if (s == "OK") {
    a.kind = AuthHttpAnswer::Kind::kOk;
  } else if (s == "WAIT") {
    a.kind = AuthHttpAnswer::Kind::kFail;
    a.message = "Authentication temporarily unavailable";
  } else {
    a.kind = AuthHttpAnswer::Kind::kFail;
    a.message = Sanitize(s, kMaxAuthMessageBytes);
    if (a.message.empty()) a.message = "Authentication failed";
  }
  return a;
}

}  // namespace imapgate::auth
