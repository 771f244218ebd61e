#include "proxyproto/address.h"

namespace imapgate::proxyproto {
namespace {

constexpr std::array<uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a dotted quad into out[0..3].
bool ParseDottedQuad(std::string_view text, uint8_t* out) {
  if (text.empty() || text.size() > kMaxIpv4TextLength) return false;
  int part = 0;
  size_t i = 0;
  while (true) {
    size_t start = i;
    unsigned value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + static_cast<unsigned>(text[i] - '0');
      if (value > 255) return false;
      ++i;
    }
    size_t digits = i - start;
    if (digits == 0 || digits > 3) return false;
    if (digits > 1 && text[start] == '0') return false;  // no leading zeros (no octal ambiguity)
    out[part++] = static_cast<uint8_t>(value);
    if (part == 4) return i == text.size();
    if (i >= text.size() || text[i] != '.') return false;
    ++i;
  }
}

}  // namespace

IpAddress IpAddress::V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.family = Family::kIPv4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

IpAddress IpAddress::V6(const std::array<uint8_t, 16>& bytes) {
  IpAddress ip;
  ip.family = Family::kIPv6;
  ip.bytes = bytes;
  return ip;
}

bool IpAddress::IsV4Mapped() const {
  if (family != Family::kIPv6) return false;
  for (size_t i = 0; i < kMappedPrefix.size(); ++i) {
    if (bytes[i] != kMappedPrefix[i]) return false;
  }
  return true;
}

IpAddress IpAddress::Unmapped() const {
  if (!IsV4Mapped()) return *this;
  return V4(bytes[12], bytes[13], bytes[14], bytes[15]);
}

IpAddress IpAddress::Mapped() const {
  if (family == Family::kIPv6) return *this;
  std::array<uint8_t, 16> b{};
  for (size_t i = 0; i < kMappedPrefix.size(); ++i) b[i] = kMappedPrefix[i];
  for (size_t i = 0; i < 4; ++i) b[12 + i] = bytes[i];
  return V6(b);
}

std::optional<IpAddress> ParseIpv4(std::string_view text) {
  IpAddress ip;
  if (!ParseDottedQuad(text, ip.bytes.data())) return std::nullopt;
  return ip;
}

std::optional<IpAddress> ParseIpv6(std::string_view text) {
  if (text.size() < 2 || text.size() > kMaxIpv6TextLength) return std::nullopt;
  std::array<uint8_t, 16> out{};
  size_t filled = 0;     // bytes written
  int gap = -1;          // byte index where "::" stands, if any
  size_t i = 0;
  if (text[0] == ':') {  // only "::" may start the text
    if (text[1] != ':') return std::nullopt;
    gap = 0;
    i = 2;
    if (i == text.size()) return IpAddress::V6(out);
  }
  while (i < text.size()) {
    if (filled == 16) return std::nullopt;
    size_t start = i;
    unsigned value = 0;
    while (i < text.size() && i - start < 5 && HexValue(text[i]) >= 0) {
      value = value * 16 + static_cast<unsigned>(HexValue(text[i]));
      ++i;
    }
    size_t digits = i - start;
    if (i < text.size() && text[i] == '.') {  // an embedded IPv4 tail ends the address
      if (filled > 12) return std::nullopt;
      if (!ParseDottedQuad(text.substr(start), out.data() + filled)) return std::nullopt;
      filled += 4;
      i = text.size();
      break;
    }
    if (digits == 0 || digits > 4) return std::nullopt;
    out[filled++] = static_cast<uint8_t>(value >> 8);
    out[filled++] = static_cast<uint8_t>(value & 0xff);
    if (i == text.size()) break;
    if (text[i] != ':') return std::nullopt;
    ++i;
    if (i < text.size() && text[i] == ':') {
      if (gap >= 0) return std::nullopt;  // a second "::"
      gap = static_cast<int>(filled);
      ++i;
      if (i == text.size()) break;
    } else if (i == text.size()) {
      return std::nullopt;  // a trailing single ':'
    }
  }
  if (gap >= 0) {
    if (filled > 14) return std::nullopt;  // "::" must stand for at least one group
    size_t tail = filled - static_cast<size_t>(gap);
    std::array<uint8_t, 16> moved{};
    for (size_t k = 0; k < static_cast<size_t>(gap); ++k) moved[k] = out[k];
    for (size_t k = 0; k < tail; ++k) moved[16 - tail + k] = out[gap + k];
    out = moved;
  } else if (filled != 16) {
    return std::nullopt;
  }
  return IpAddress::V6(out);
}

std::optional<IpAddress> ParseIp(std::string_view text) {
  return text.find(':') == std::string_view::npos ? ParseIpv4(text) : ParseIpv6(text);
}

std::string FormatIp(const IpAddress& ip) {
  auto quad = [](const uint8_t* b) {
    std::string s;
    for (int i = 0; i < 4; ++i) {
      if (i) s += '.';
      s += std::to_string(b[i]);
    }
    return s;
  };
  if (ip.family == Family::kIPv4) return quad(ip.bytes.data());
  if (ip.IsV4Mapped()) return "::ffff:" + quad(ip.bytes.data() + 12);
  uint16_t groups[8];
  for (int g = 0; g < 8; ++g) groups[g] = static_cast<uint16_t>(ip.bytes[2 * g] << 8 | ip.bytes[2 * g + 1]);
  // As inet_ntop: an IPv4-compatible address (six zero groups, then not 0:0 or 0:1) is ::a.b.c.d.
  bool compatible = groups[6] != 0;
  for (int g = 0; g < 6; ++g) compatible = compatible && groups[g] == 0;
  if (compatible) return "::" + quad(ip.bytes.data() + 12);
  // RFC 5952: the longest run of two or more zero groups (the first on a tie) becomes "::".
  int best = -1, best_len = 0;
  for (int g = 0; g < 8;) {
    if (groups[g] != 0) { ++g; continue; }
    int start = g;
    while (g < 8 && groups[g] == 0) ++g;
    if (g - start > best_len) { best = start; best_len = g - start; }
  }
  if (best_len < 2) best = -1;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (int g = 0; g < 8; ++g) {
    if (g == best) {
      s += "::";
      g += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      int nibble = (groups[g] >> shift) & 0xf;
      if (nibble || started || shift == 0) {
        s += kHex[nibble];
        started = true;
      }
    }
  }
  return s;
}

std::string FormatEndpoint(const Endpoint& endpoint) {
  if (endpoint.ip.family == Family::kIPv4) return FormatIp(endpoint.ip) + ":" + std::to_string(endpoint.port);
  return "[" + FormatIp(endpoint.ip) + "]:" + std::to_string(endpoint.port);
}

}  // namespace imapgate::proxyproto
