// HTTP request and response values for net::HttpServer and its handlers, and the pure helpers
// that read a request: percent-decoding, query strings and the loopback test of a peer address.
//
// Pure: no sockets and no libevent, so handlers (admin::AdminApi) are unit-tested by building an
// HttpRequest by hand, including a peer address that no test could connect from.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret.h"
#include "common/status.h"

namespace imapgate::net {

// The methods a handler can tell apart; every other method arrives as kOther.
enum class HttpMethod { kGet, kHead, kPost, kOther };

// HttpRequest: one request as a handler sees it. The server fills it; tests build it by hand.
struct HttpRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string method_name = "GET";  // as sent, for messages
  std::string path;                 // as sent, still percent-encoded, without the query
  std::string query;                // as sent, without the '?'; empty when there is none
  std::string body;                 // at most HttpServer::kMaxBodyBytes
  SecretString authorization;       // the Authorization header's value; empty when absent
  bool has_authorization = false;   // whether the header was sent at all (even empty)
  std::string peer_address;         // numeric address of the client, "" when unknown
  bool peer_is_loopback = false;    // 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104
};

// HttpResponse: what a handler returns; the server adds Content-Length and security headers.
struct HttpResponse {
  HttpResponse() = default;
  HttpResponse(int status_code, std::string type, std::string text)
      : status(status_code), content_type(std::move(type)), body(std::move(text)) {}

  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, ...)
};

// At most this many name=value pairs in a query string (ParseQuery refuses more).
constexpr size_t kMaxQueryParams = 16;

// Decodes %XX escapes; with plus_is_space (query strings) '+' becomes ' '. Fails on a malformed
// escape and on an encoded or raw NUL byte.
StatusOr<std::string> PercentDecode(std::string_view in, bool plus_is_space);

// Splits an application/x-www-form-urlencoded query ("a=1&b=x%20y") into decoded pairs, in
// order; a pair without '=' has an empty value and empty pairs ("a=1&&b=2") are skipped. Fails
// on a bad escape or more than kMaxQueryParams pairs.
StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query);

// Whether a numeric IPv4 or IPv6 address is a loopback address (127.0.0.0/8, ::1, or an
// IPv4-mapped 127.0.0.0/8). Anything that does not parse is not loopback.
bool IsLoopbackAddress(std::string_view numeric);

}  // namespace imapgate::net
