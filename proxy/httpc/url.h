// Url: the origin of an outbound HTTP client (http://, https:// or nginx-style unix:).
//
// ParseUrl is pure: it never resolves a name. An IP literal, "localhost" (127.0.0.1) and a UNIX
// socket path give a ready address at once; any other name leaves needs_resolution set, and
// ResolveUrl() (blocking getaddrinfo, start-up or reload only, never on a worker's loop) fills
// the address once. The client connects to that one address for the life of its config.
// Values; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "net/socket.h"

namespace imapgate::httpc {

// Bounds on a URL's text.
constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxHostBytes = 253;
constexpr size_t kMaxUnixPathBytes = 107;  // sizeof(sockaddr_un::sun_path) - 1

// Url: one parsed origin plus the request target given in the URL.
struct Url {
  enum class Scheme { kHttp, kHttps, kUnix };
  Scheme scheme = Scheme::kHttp;
  std::string host;       // name or IP literal, without brackets; "localhost" for kUnix
  uint16_t port = 0;      // 80/443 by default; 0 for kUnix
  bool explicit_port = false;
  std::string target;     // path and query as written ("/auth?x=1"); "/" when absent
  std::string unix_path;  // kUnix only
  net::SocketAddress address;     // where to connect (IPv4, IPv6 or AF_UNIX)
  bool needs_resolution = false;  // host is a name: call ResolveUrl() before use

  // The Host header's value: "host", "host:port" when the port is not the default, IPv6 in
  // brackets; "localhost" for a UNIX socket (as nginx sends).
  std::string HostHeader() const;
  // For messages: "http://host:port", "unix:/path" (never a query string).
  std::string Origin() const;
};

// Parses "http://host[:port][/path][?query]", "https://host[:port][/path]" or
// "unix:/path/to.sock[:/uri]". Refuses user info, fragments, spaces and control bytes, a port
// outside 1..65535, a host or path beyond the bounds above. Pure (no DNS).
StatusOr<Url> ParseUrl(std::string_view text);

// Resolves url->host when needs_resolution is set (blocking getaddrinfo; config time only).
Status ResolveUrl(Url* url);

}  // namespace imapgate::httpc
