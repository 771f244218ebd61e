#include "config/cidr.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>

namespace imapgate::config {

StatusOr<CidrRange> ParseCidr(std::string_view text) {
  if (text.empty()) return InvalidArgument("empty CIDR range");
  const size_t slash = text.find('/');
  const std::string address(text.substr(0, slash));
  CidrRange out;
  out.ipv6 = address.find(':') != std::string::npos;
  std::array<uint8_t, 16> bytes{};
  // inet_pton is strict: a dotted quad without leading zeros, RFC 4291 IPv6 text (with an
  // embedded IPv4 tail); no zone ids, no brackets, no spaces.
  if (address.empty() || address.size() > 45 ||
      inet_pton(out.ipv6 ? AF_INET6 : AF_INET, address.c_str(), bytes.data()) != 1) {
    return InvalidArgument("not an IPv4 or IPv6 address (expected e.g. 10.0.0.0/8 or ::1/128)");
  }
  const int max_prefix = out.ipv6 ? 128 : 32;
  out.prefix_length = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    const std::string range = "the prefix length must be a number 0.." + std::to_string(max_prefix);
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return InvalidArgument(range);
    int prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return InvalidArgument(range);
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max_prefix) return InvalidArgument(range);
    out.prefix_length = prefix;
  }
  for (int bit = out.prefix_length; bit < max_prefix; ++bit) {
    if (bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return InvalidArgument("the address has bits set past the prefix length /" +
                             std::to_string(out.prefix_length) + " (write the network address)");
    }
  }
  char canonical[INET6_ADDRSTRLEN] = {};
  inet_ntop(out.ipv6 ? AF_INET6 : AF_INET, bytes.data(), canonical, sizeof(canonical));
  out.address = canonical;
  return out;
}

}  // namespace imapgate::config
