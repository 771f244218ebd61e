#include "proxyproto/encoder.h"

namespace imapgate::proxyproto {
namespace {

constexpr char kEncodedV2Signature[] = "\r\n\r\n\0\r\nQUIT\n";  // 12 bytes (the array adds a NUL)

// Both endpoints in one family: IPv4 if both are (or map to) IPv4, otherwise IPv6.
bool NormalizePair(const Endpoint& source, const Endpoint& destination, Endpoint* s, Endpoint* d) {
  *s = Endpoint{source.ip.Unmapped(), source.port};
  *d = Endpoint{destination.ip.Unmapped(), destination.port};
  const bool v4 = s->ip.family == Family::kIPv4 && d->ip.family == Family::kIPv4;
  if (!v4) {
    s->ip = s->ip.Mapped();
    d->ip = d->ip.Mapped();
  }
  return v4;
}

void AppendPort(std::string* out, uint16_t port) {
  out->push_back(static_cast<char>(port >> 8));
  out->push_back(static_cast<char>(port & 0xff));
}

std::string V2Prefix(uint8_t command, uint8_t family_transport, uint16_t length) {
  std::string out(kEncodedV2Signature, 12);
  out.push_back(static_cast<char>(0x20 | command));
  out.push_back(static_cast<char>(family_transport));
  out.push_back(static_cast<char>(length >> 8));
  out.push_back(static_cast<char>(length & 0xff));
  return out;
}

}  // namespace

std::string EncodeV2(const Endpoint& source, const Endpoint& destination) {
  Endpoint s, d;
  const bool v4 = NormalizePair(source, destination, &s, &d);
  const size_t ip_len = v4 ? 4 : 16;
  std::string out = V2Prefix(0x1, v4 ? 0x11 : 0x21, static_cast<uint16_t>(2 * ip_len + 4));
  out.append(reinterpret_cast<const char*>(s.ip.bytes.data()), ip_len);
  out.append(reinterpret_cast<const char*>(d.ip.bytes.data()), ip_len);
  AppendPort(&out, s.port);
  AppendPort(&out, d.port);
  return out;
}

std::string EncodeV2Local() { return V2Prefix(0x0, 0x00, 0); }

std::string EncodeV1(const Endpoint& source, const Endpoint& destination) {
  Endpoint s, d;
  const bool v4 = NormalizePair(source, destination, &s, &d);
  return std::string(v4 ? "PROXY TCP4 " : "PROXY TCP6 ") + FormatIp(s.ip) + " " + FormatIp(d.ip) + " " +
         std::to_string(s.port) + " " + std::to_string(d.port) + "\r\n";
}

}  // namespace imapgate::proxyproto
