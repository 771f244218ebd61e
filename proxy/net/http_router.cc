// HttpRouter: segment matching, method check and name validation.

#include "net/http_router.h"

#include <utility>

namespace imapgate::net {
namespace {

constexpr std::string_view kNameSegment = "{}";

// Splits "/a/b/c" into {"a","b","c"}; "/" into {""}; "/a/" into {"a",""}. The caller checked
// the leading '/'.
std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  for (;;) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool NameByteAllowed(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '@' || c == '+' || c == '-';
}

HttpResponse PlainError(int status, std::string_view message) {
  return HttpResponse{status, "text/plain; charset=utf-8", std::string(message) + "\n"};
}

}  // namespace

bool IsValidRouteName(std::string_view name) {
  if (name.empty() || name.size() > kMaxRouteNameBytes || name.front() == '.') return false;
  for (char c : name) {
    if (!NameByteAllowed(c)) return false;
  }
  return true;
}

HttpRouter::HttpRouter(ErrorFormatter errors) : errors_(std::move(errors)) {}

void HttpRouter::Add(HttpMethod method, std::string_view pattern, Handler fn) {
  if (pattern.empty() || pattern.front() != '/') return;
  Entry entry{method, {}, std::move(fn)};
  int names = 0;
  for (std::string_view s : Segments(pattern)) {
    if (s == kNameSegment) ++names;
    entry.segments.emplace_back(s);
  }
  if (names > 1) return;
  routes_.push_back(std::move(entry));
}

HttpResponse HttpRouter::Error(int status, std::string_view message) const {
  return errors_ ? errors_(status, message) : PlainError(status, message);
}

HttpResponse HttpRouter::Route(const HttpRequest& request) const {
  if (request.path.empty() || request.path.front() != '/') return Error(404, "not found");
  const std::vector<std::string_view> path = Segments(request.path);
  const HttpMethod method = request.method == HttpMethod::kHead ? HttpMethod::kGet : request.method;
  bool path_matched = false;
  bool allow_get = false;
  bool allow_post = false;
  for (const Entry& route : routes_) {
    if (route.segments.size() != path.size()) continue;
    std::string_view raw_name;
    bool has_name_segment = false;
    bool match = true;
    for (size_t i = 0; i < path.size() && match; ++i) {
      if (route.segments[i] == kNameSegment) {
        raw_name = path[i];
        has_name_segment = true;
      } else {
        match = route.segments[i] == path[i];
      }
    }
    if (!match) continue;
    path_matched = true;
    allow_get |= route.method == HttpMethod::kGet;
    allow_post |= route.method == HttpMethod::kPost;
    if (route.method != method) continue;
    if (!has_name_segment) return route.fn(request, std::string_view());
    auto name = PercentDecode(raw_name, /*plus_is_space=*/false);
    if (!name.ok() || !IsValidRouteName(*name)) {
      return Error(400, "invalid name in path (1-" + std::to_string(kMaxRouteNameBytes) +
                            " characters of A-Z a-z 0-9 . _ @ + -)");
    }
    return route.fn(request, *name);
  }
  if (!path_matched) return Error(404, "not found");
  HttpResponse response = Error(405, "method " + request.method_name + " not allowed here");
  std::string allow;
  if (allow_get) allow = "GET, HEAD";
  if (allow_post) allow += allow.empty() ? "POST" : ", POST";
  response.headers.emplace_back("Allow", allow);
  return response;
}

}  // namespace imapgate::net
