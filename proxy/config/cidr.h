// CIDR ranges in the config (a listener's proxy_protocol.trusted). Pure (inet_pton/inet_ntop on
// a string, no I/O).
//
// Accepts what proxyproto::Cidr::Parse accepts, so the lead's conversion never fails on a loaded
// config: "10.0.0.0/8", "2001:db8::/32", a bare address as a host route ("127.0.0.1" = /32,
// "::1" = /128). IPv4 is a strict dotted quad (no leading zeros); the prefix length is a decimal
// number without leading zeros, 0..32 for IPv4 and 0..128 for IPv6; an address with bits set past
// the prefix ("10.0.0.1/8") is refused as ambiguous. The parsed range is kept in canonical text.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace imapgate::config {

struct CidrRange {
  std::string address;    // canonical network address: "10.0.0.0", "2001:db8::"
  int prefix_length = 0;  // 0..32 (IPv4) or 0..128 (IPv6)
  bool ipv6 = false;
  // "10.0.0.0/8": the form proxyproto::Cidr::Parse takes.
  std::string ToString() const { return address + "/" + std::to_string(prefix_length); }
};

// Parses one range. The error message says what is wrong without quoting the text (the caller
// quotes it at its position).
StatusOr<CidrRange> ParseCidr(std::string_view text);

}  // namespace imapgate::config
