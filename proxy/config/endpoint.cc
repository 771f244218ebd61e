#include "config/endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <string>

#include "config/units.h"

namespace imapgate::config {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, 1..63 bytes
// each, 253 in all. A single trailing dot is allowed.
bool IsHostName(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-' || host[i - label] == '-') return false;
      label = 0;
    } else if (IsAlnum(host[i]) || host[i] == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

bool LooksLikeIpv4(std::string_view host) {
  for (char c : host) {
    if (!IsDigit(c) && c != '.') return false;
  }
  return true;
}

}  // namespace

StatusOr<Endpoint> ParseEndpoint(std::string_view text, bool allow_port_zero) {
  const std::string quoted = QuoteForMessage(text);
  Endpoint endpoint;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument("invalid address " + quoted + ": missing ']' after the IPv6 address");
    }
    endpoint.host = std::string(text.substr(1, close - 1));
    in6_addr addr6;
    if (inet_pton(AF_INET6, endpoint.host.c_str(), &addr6) != 1) {
      return InvalidArgument("invalid address " + quoted + ": " + QuoteForMessage(endpoint.host) +
                             " is not an IPv6 address");
    }
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return InvalidArgument("invalid address " + quoted + ": expected [IPv6]:port");
    }
    port_text = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument("invalid address " + quoted + ": expected host:port");
    }
    if (text.find(':') != colon) {
      return InvalidArgument("invalid address " + quoted +
                             ": IPv6 addresses must be in brackets, e.g. [::1]:993");
    }
    endpoint.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (endpoint.host.empty()) {
      return InvalidArgument("invalid address " + quoted +
                             ": missing host (use 0.0.0.0 or [::] for all interfaces)");
    }
    if (LooksLikeIpv4(endpoint.host)) {
      in_addr addr4;
      if (inet_pton(AF_INET, endpoint.host.c_str(), &addr4) != 1) {
        return InvalidArgument("invalid address " + quoted + ": " + QuoteForMessage(endpoint.host) +
                               " is not an IPv4 address");
      }
    } else if (!IsHostName(endpoint.host)) {
      return InvalidArgument("invalid address " + quoted + ": " + QuoteForMessage(endpoint.host) +
                             " is not a valid host name");
    }
  }
  unsigned port = 0;
  bool digits_only = !port_text.empty() && port_text.size() <= 5;
  for (char c : port_text) digits_only = digits_only && IsDigit(c);
  if (digits_only) {
    std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  }
  const unsigned min_port = allow_port_zero ? 0 : 1;
  if (!digits_only || port < min_port || port > 65535) {
    return InvalidArgument("invalid address " + quoted + ": port must be a number " +
                           std::to_string(min_port) + "..65535");
  }
  endpoint.port = static_cast<uint16_t>(port);
  return endpoint;
}

std::string FormatEndpoint(const Endpoint& endpoint) {
  std::string port = std::to_string(endpoint.port);
  if (endpoint.host.find(':') != std::string::npos) return "[" + endpoint.host + "]:" + port;
  return endpoint.host + ":" + port;
}

}  // namespace imapgate::config
