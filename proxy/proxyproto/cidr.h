// CIDR ranges and the bounded list of trusted PROXY-protocol senders. Pure (std + Status).
//
// "10.0.0.0/8", "2001:db8::/32", "127.0.0.1" (= /32), "::1" (= /128). IPv4-mapped IPv6 is IPv4:
// "::ffff:10.0.0.0/104" is 10.0.0.0/8, and a client seen as ::ffff:10.1.2.3 matches 10.0.0.0/8.
// An IPv6 range that covers ::ffff:0:0/96 (e.g. ::/0) also matches IPv4 clients. A range with
// bits set past its prefix ("10.0.0.1/8") is refused, as it is ambiguous.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proxyproto/address.h"

namespace imapgate::proxyproto {

class Cidr {
 public:
  // Parses one range; the error message quotes the text (cut to 64 bytes) and says what is wrong.
  static StatusOr<Cidr> Parse(std::string_view text);
  bool Contains(const IpAddress& ip) const;
  // Canonical text: "10.0.0.0/8", "2001:db8::/32".
  std::string ToString() const;

 private:
  Cidr() = default;
  std::array<uint8_t, 16> mapped_{};  // the network, IPv4 as ::ffff:a.b.c.d
  int prefix_ = 0;                    // over the 128-bit mapped form
  bool v4_ = false;
};

class CidrList {
 public:
  static constexpr size_t kMaxEntries = 1024;

  CidrList() = default;  // empty: trusts nobody
  // All entries must parse; at most kMaxEntries. The error names the entry's index.
  static StatusOr<CidrList> Parse(const std::vector<std::string>& entries);
  bool Contains(const IpAddress& ip) const;
  bool empty() const { return ranges_.empty(); }
  size_t size() const { return ranges_.size(); }
  const std::vector<Cidr>& ranges() const { return ranges_; }

 private:
  std::vector<Cidr> ranges_;
};

}  // namespace imapgate::proxyproto
