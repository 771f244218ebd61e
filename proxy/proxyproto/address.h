// IP addresses for the PROXY protocol and the trusted-sources list: a value type, strict text
// parsing (dotted quad without leading zeros; RFC 4291 IPv6 text, with an embedded IPv4 tail)
// and RFC 5952 formatting. Pure (std only), no allocation except the formatted string.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imapgate::proxyproto {

enum class Family : uint8_t { kIPv4, kIPv6 };

// An IPv4 or IPv6 address. IPv4 uses bytes[0..3] (network order); the rest stays zero.
struct IpAddress {
  Family family = Family::kIPv4;
  std::array<uint8_t, 16> bytes{};

  static IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  static IpAddress V6(const std::array<uint8_t, 16>& bytes);
  // True for ::ffff:a.b.c.d.
  bool IsV4Mapped() const;
  // ::ffff:a.b.c.d becomes a.b.c.d; anything else is returned unchanged.
  IpAddress Unmapped() const;
  // a.b.c.d becomes ::ffff:a.b.c.d; IPv6 is returned unchanged.
  IpAddress Mapped() const;
  bool operator==(const IpAddress& o) const { return family == o.family && bytes == o.bytes; }
  bool operator!=(const IpAddress& o) const { return !(*this == o); }
};

// An address and a TCP port (host order).
struct Endpoint {
  IpAddress ip;
  uint16_t port = 0;
  bool operator==(const Endpoint& o) const { return ip == o.ip && port == o.port; }
  bool operator!=(const Endpoint& o) const { return !(*this == o); }
};

// Longest textual forms: "255.255.255.255" and "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
inline constexpr size_t kMaxIpv4TextLength = 15;
inline constexpr size_t kMaxIpv6TextLength = 45;

// Strict parsers: the whole text must be one address, nothing around it.
std::optional<IpAddress> ParseIpv4(std::string_view text);
std::optional<IpAddress> ParseIpv6(std::string_view text);
// IPv4 if the text has no ':', IPv6 otherwise.
std::optional<IpAddress> ParseIp(std::string_view text);

// "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" (RFC 5952, as inet_ntop prints them).
std::string FormatIp(const IpAddress& ip);
// "192.0.2.1:993" or "[2001:db8::1]:993".
std::string FormatEndpoint(const Endpoint& endpoint);

}  // namespace imapgate::proxyproto
