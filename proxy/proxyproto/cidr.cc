#include "proxyproto/cidr.h"

namespace imapgate::proxyproto {
namespace {

std::string Quote(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out;
  for (char c : text.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > kMax) out += "...";
  return "'" + out + "'";
}

Status Bad(std::string_view text, const std::string& why) {
  return InvalidArgument("bad CIDR " + Quote(text) + ": " + why);
}

}  // namespace

StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  if (text.empty()) return Bad(text, "empty");
  const size_t slash = text.find('/');
  const std::string_view address_text = text.substr(0, slash);
  auto ip = ParseIp(address_text);
  if (!ip) return Bad(text, "not an IPv4 or IPv6 address");
  const int max_prefix = ip->family == Family::kIPv4 ? 32 : 128;
  int prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) {
      return Bad(text, "prefix length must be a number 0.." + std::to_string(max_prefix));
    }
    prefix = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return Bad(text, "prefix length must be a number 0.." + std::to_string(max_prefix));
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max_prefix) return Bad(text, "prefix length must be 0.." + std::to_string(max_prefix));
  }
  Cidr cidr;
  cidr.mapped_ = ip->Mapped().bytes;
  cidr.prefix_ = ip->family == Family::kIPv4 ? 96 + prefix : prefix;
  cidr.v4_ = ip->family == Family::kIPv4 || (ip->IsV4Mapped() && prefix >= 96);
  for (int bit = cidr.prefix_; bit < 128; ++bit) {
    if (cidr.mapped_[bit / 8] & (0x80 >> (bit % 8))) {
      return Bad(text, "address has bits set past the prefix length");
    }
  }
  return cidr;
}

bool Cidr::Contains(const IpAddress& ip) const {
  const std::array<uint8_t, 16> a = ip.Mapped().bytes;
  const int full = prefix_ / 8;
  for (int i = 0; i < full; ++i) {
    if (a[i] != mapped_[i]) return false;
  }
  const int rest = prefix_ % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (mapped_[full] & mask);
}

std::string Cidr::ToString() const {
  IpAddress network = IpAddress::V6(mapped_);
  if (v4_) return FormatIp(network.Unmapped()) + "/" + std::to_string(prefix_ - 96);
  return FormatIp(network) + "/" + std::to_string(prefix_);
}

StatusOr<CidrList> CidrList::Parse(const std::vector<std::string>& entries) {
  if (entries.size() > kMaxEntries) {
    return InvalidArgument("too many CIDR ranges: " + std::to_string(entries.size()) + " (at most " +
                           std::to_string(kMaxEntries) + ")");
  }
  CidrList list;
  list.ranges_.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    auto cidr = Cidr::Parse(entries[i]);
    if (!cidr.ok()) {
      return InvalidArgument("entry " + std::to_string(i + 1) + ": " + cidr.status().message());
    }
    list.ranges_.push_back(*cidr);
  }
  return list;
}

bool CidrList::Contains(const IpAddress& ip) const {
  for (const Cidr& c : ranges_) {
    if (c.Contains(ip)) return true;
  }
  return false;
}

}  // namespace imapgate::proxyproto
