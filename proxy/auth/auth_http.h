// The nginx mail auth_http protocol: the request headers a login sends to the auth service, and
// how the answer's headers are read. Pure (no I/O); any thread.
//
// Request: the headers nginx's mail module sends, in its order (Host is added by the HTTP
// client from the URL): Auth-Method, Auth-User, Auth-Pass, Auth-Protocol, Auth-Login-Attempt,
// Client-IP, Client-Host, Proxy-Protocol-Addr/-Port/-Server-Addr/-Server-Port, Auth-SSL,
// Auth-SSL-Protocol, Auth-SSL-Cipher, then the configured extra headers. Auth-User and Auth-Pass
// are percent-encoded as nginx does (space, '%', and bytes 0x00-0x1F, upper-case hex).
//
// Answer: only headers matter, names case-insensitive. "Auth-Status: OK" is success; "WAIT"
// (nginx: poll again) is a temporary failure here; any other text is the failure text for the
// client's NO. Auth-Server must be an IP literal and Auth-Port 1..65535; Auth-User/Auth-Pass
// replace the backend credentials and, as in nginx, are taken verbatim (not unescaped).
// Auth-Wait: seconds before the NO (nginx: without it the connection is closed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/secret.h"

namespace imapgate::auth {

// Bounds on what an answer may carry.
constexpr size_t kMaxAuthMessageBytes = 256;   // the failure text kept (longer text is cut)
constexpr int kMaxAuthWaitSeconds = 60;        // Auth-Wait is clamped to 0..this
constexpr size_t kMaxAuthUserBytes = 1024;     // a longer Auth-User or Auth-Pass: kInvalid
constexpr size_t kMaxAuthErrorCodeBytes = 32;  // Auth-Error-Code kept (printable ASCII, cut)

// AuthHttpQuery: what one login attempt tells the auth service. `pass` is borrowed (may be
// null: sent as an empty Auth-Pass) and must outlive the BuildAuthHttpHeaders call.
struct AuthHttpQuery {
  std::string method;  // "plain", "xoauth2", "oauthbearer"
  std::string user;
  const SecretString* pass = nullptr;
  std::string protocol = "imap";
  int login_attempt = 1;
  std::string client_ip;
  std::string client_host;  // empty: not sent
  bool ssl = false;
  std::string ssl_protocol;  // empty: not sent
  std::string ssl_cipher;    // empty: not sent
  std::string proxy_protocol_addr, proxy_protocol_port, proxy_protocol_server_addr,
      proxy_protocol_server_port;  // empty: not sent
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

// Percent-encodes as nginx's auth_http escaping: ' ', '%' and 0x00-0x1F become %XX (upper-case).
std::string AuthHttpEscape(std::string_view in);

// The request headers for `query`, in nginx's order, values as they go on the wire (Auth-Pass
// escaped, in wiping storage). Never fails; control bytes (CR, LF, ...) are escaped in Auth-User
// and Auth-Pass and dropped from the other fields, so no header can be injected; an extra
// header's name keeps only its token bytes (a name left empty is not sent).
std::vector<std::pair<std::string, SecretString>> BuildAuthHttpHeaders(const AuthHttpQuery& query);

// AuthHttpAnswer: the auth service's verdict.
struct AuthHttpAnswer {
  enum class Kind { kOk, kFail, kInvalid } kind = Kind::kInvalid;
  // kFail: the text for the client's NO (printable ASCII, at most kMaxAuthMessageBytes).
  // kInvalid: why the answer is unusable, for logs (never a header value).
  std::string message;
  std::optional<std::string> server;  // Auth-Server (an IP literal)
  std::optional<uint16_t> port;       // Auth-Port
  std::optional<std::string> user;    // Auth-User: the backend login name
  std::optional<SecretString> pass;   // Auth-Pass: the backend password
  std::optional<int> wait_seconds;    // Auth-Wait, clamped to 0..kMaxAuthWaitSeconds
  std::string error_code;             // Auth-Error-Code (SMTP in nginx; kept for logs)
};

// Reads an answer. kInvalid: an HTTP status other than 200, no Auth-Status, an Auth-Server that
// is not an IP literal, an Auth-Port that is not 1..65535, Auth-Port without Auth-Server or the
// reverse, an oversized Auth-User/Auth-Pass. On OK without Auth-Server there is no route: the
// caller uses its own router (nginx would refuse).
AuthHttpAnswer ParseAuthHttpAnswer(int http_status, const std::vector<std::pair<std::string, SecretString>>& headers);

}  // namespace imapgate::auth
