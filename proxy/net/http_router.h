// HttpRouter: pure path routing for HTTP handlers, with at most one name segment per route.
//
// A pattern is an absolute path of literal segments and at most one "{}" segment, e.g.
// "/api/v1/backends/{}/drain". A request path matches when it has as many segments, every literal
// segment is equal byte for byte, and the "{}" segment is a valid name once percent-decoded
// (IsValidRouteName). Route() answers: 404 when no pattern matches the path, 405 with an Allow
// header when patterns match but none for the method, 400 when the name is not valid, and the
// handler's response otherwise. A GET route also serves HEAD (the server drops the body).
//
// Pure: no I/O; errors are built by the ErrorFormatter given at construction (plain text when
// none), so an API can answer its errors in its own format (admin: JSON).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_message.h"

namespace imapgate::net {

// Longest name a "{}" segment accepts, in bytes after percent-decoding.
constexpr size_t kMaxRouteNameBytes = 128;

// A name as routes and admin queries take it: 1..kMaxRouteNameBytes bytes of [A-Za-z0-9._@+-],
// not starting with '.' (so never "." or ".."). Covers backend names and user@domain.
bool IsValidRouteName(std::string_view name);

class HttpRouter {
 public:
  // Handler: gets the request and the decoded name ("" for a route without "{}").
  using Handler = std::function<HttpResponse(const HttpRequest& request, std::string_view name)>;
  // Builds an error response (status 4xx/5xx, a short message for the client).
  using ErrorFormatter = std::function<HttpResponse(int status, std::string_view message)>;

  explicit HttpRouter(ErrorFormatter errors = nullptr);

  // Adds a route for method (kGet or kPost) on pattern. Patterns are fixed at startup; a
  // malformed one (not starting with '/', or with more than one "{}") is a programming error and
  // is ignored.
  void Add(HttpMethod method, std::string_view pattern, Handler fn);

  // Answers request as described above.
  HttpResponse Route(const HttpRequest& request) const;

  // The error response for status and message, in this router's format.
  HttpResponse Error(int status, std::string_view message) const;

 private:
  struct Entry {
    HttpMethod method;
    std::vector<std::string> segments;  // "{}" marks the name segment
    Handler fn;
  };

  ErrorFormatter errors_;
  std::vector<Entry> routes_;
};

}  // namespace imapgate::net
