#include "httpc/url.h"

#include <arpa/inet.h>
#include <sys/un.h>

#include <cstring>

namespace imapgate::httpc {
namespace {

bool IsTargetByte(char c) { return c > 0x20 && c < 0x7f && c != '#'; }

bool IsHostNameByte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_';
}

// Fills `out` when host is an IP literal (or localhost); false otherwise.
bool LiteralAddress(const std::string& host, uint16_t port, net::SocketAddress* out) {
  *out = net::SocketAddress();
  in_addr a4;
  in6_addr a6;
  if (host == "localhost" || inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    if (host == "localhost") inet_pton(AF_INET, "127.0.0.1", &a4);
    auto* s = reinterpret_cast<sockaddr_in*>(&out->storage);
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    s->sin_addr = a4;
    out->length = sizeof(sockaddr_in);
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    auto* s = reinterpret_cast<sockaddr_in6*>(&out->storage);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    s->sin6_addr = a6;
    out->length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

StatusOr<std::string> ParseTarget(std::string_view t) {
  if (t.empty()) return std::string("/");
  if (t[0] != '/') return InvalidArgument("URL path must start with '/'");
  for (char c : t) {
    if (c == '#') return InvalidArgument("URL must not have a fragment");
    if (!IsTargetByte(c)) return InvalidArgument("URL path has a space or control byte");
  }
  return std::string(t);
}

}  // namespace

std::string Url::HostHeader() const {
  if (scheme == Scheme::kUnix) return "localhost";
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  uint16_t def = scheme == Scheme::kHttps ? 443 : 80;
  if (port != def) h += ":" + std::to_string(port);
  return h;
}

std::string Url::Origin() const {
  if (scheme == Scheme::kUnix) return "unix:" + unix_path;
  return std::string(scheme == Scheme::kHttps ? "https://" : "http://") +
         (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

StatusOr<Url> ParseUrl(std::string_view text) {
  if (text.size() > kMaxUrlBytes) return InvalidArgument("URL longer than " + std::to_string(kMaxUrlBytes) + " bytes");
  Url url;
  if (text.substr(0, 5) == "unix:") {
    // nginx: "unix:/path/to.sock" or "unix:/path/to.sock:/uri".
    std::string_view rest = text.substr(5);
    size_t colon = rest.find(':');
    std::string_view path = rest.substr(0, colon);
    std::string_view target = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (path.empty() || path[0] != '/') return InvalidArgument("unix: URL needs an absolute socket path");
    if (path.size() > kMaxUnixPathBytes) return InvalidArgument("unix: socket path too long");
    for (char c : path) {
      if (c <= 0x20 || c >= 0x7f) return InvalidArgument("unix: socket path has a space or control byte");
    }
    auto t = ParseTarget(target);
    if (!t.ok()) return t.status();
    url.scheme = Url::Scheme::kUnix;
    url.host = "localhost";
    url.unix_path = std::string(path);
    url.target = std::move(*t);
    auto* s = reinterpret_cast<sockaddr_un*>(&url.address.storage);
    s->sun_family = AF_UNIX;
    std::memcpy(s->sun_path, path.data(), path.size());
    s->sun_path[path.size()] = '\0';
    url.address.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return url;
  }
  std::string_view rest;
  if (text.substr(0, 7) == "http://") {
    url.scheme = Url::Scheme::kHttp;
    url.port = 80;
    rest = text.substr(7);
  } else if (text.substr(0, 8) == "https://") {
    url.scheme = Url::Scheme::kHttps;
    url.port = 443;
    rest = text.substr(8);
  } else {
    return InvalidArgument("URL scheme must be http://, https:// or unix:");
  }
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (!target.empty() && target[0] == '?') {
    // "http://h?q": the path is "/".
    auto t = ParseTarget(std::string("/") + std::string(target));
    if (!t.ok()) return t.status();
    url.target = std::move(*t);
  } else {
    auto t = ParseTarget(target);
    if (!t.ok()) return t.status();
    url.target = std::move(*t);
  }
  if (authority.find('@') != std::string_view::npos) return InvalidArgument("URL must not carry user info");
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("URL has an unclosed '[' in its host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return InvalidArgument("URL has bytes after ']'");
      port = after.substr(1);
      url.explicit_port = true;
    }
    in6_addr a6;
    if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1) return InvalidArgument("URL has a bad IPv6 literal");
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      url.explicit_port = true;
    }
    for (char c : host) {
      if (!IsHostNameByte(c)) return InvalidArgument("URL host has a byte that is not allowed");
    }
  }
  if (host.empty()) return InvalidArgument("URL has no host");
  if (host.size() > kMaxHostBytes) return InvalidArgument("URL host longer than " + std::to_string(kMaxHostBytes) + " bytes");
  if (url.explicit_port) {
    if (port.empty() || port.size() > 5) return InvalidArgument("URL port must be 1..65535");
    uint32_t p = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return InvalidArgument("URL port must be 1..65535");
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p < 1 || p > 65535) return InvalidArgument("URL port must be 1..65535");
    url.port = static_cast<uint16_t>(p);
  }
  url.host = std::string(host);
  url.needs_resolution = !LiteralAddress(url.host, url.port, &url.address);
  return url;
}

Status ResolveUrl(Url* url) {
  if (!url->needs_resolution) return Status::Ok();
  auto a = net::ResolveAddress(url->host, url->port);
  if (!a.ok()) return a.status();
  url->address = *a;
  url->needs_resolution = false;
  return Status::Ok();
}

}  // namespace imapgate::httpc
