// PROXY protocol encoders, for imapgate's own connections to a backend that expects a header.
// Pure (std only). The results are what Parser accepts (tests/unit/proxyproto round-trips them).
#pragma once

#include <string>

#include "proxyproto/address.h"

namespace imapgate::proxyproto {

// v2, PROXY command, TCP (STREAM): AF_INET when both endpoints are IPv4 (IPv4-mapped IPv6
// counts as IPv4), AF_INET6 otherwise (an IPv4 endpoint is then written IPv4-mapped). No TLVs.
// Binary: 28 bytes (AF_INET) or 52 bytes (AF_INET6).
std::string EncodeV2(const Endpoint& source, const Endpoint& destination);

// v2, LOCAL command (a connection of the proxy's own, e.g. a health check): 16 bytes.
std::string EncodeV2Local();

// v1 text line with CRLF: "PROXY TCP4 ..." or "PROXY TCP6 ..." with the same family rule as
// EncodeV2. At most 104 bytes.
std::string EncodeV1(const Endpoint& source, const Endpoint& destination);

}  // namespace imapgate::proxyproto
