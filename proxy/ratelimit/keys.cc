#include "ratelimit/keys.h"

#include <algorithm>
#include <span>

#include "tls/crypto.h"

namespace imapgate::ratelimit {
namespace {

constexpr size_t kMaxUserBytes = 256;
// Domain separation: a password fingerprint can never equal a user fingerprint by construction
// of the input (different prefixes), whatever the user and password.
constexpr std::string_view kPasswordDomain{"imapgate.ratelimit.password\0", 28};
constexpr std::string_view kUserDomain{"imapgate.ratelimit.user\0", 24};

void AppendFramed(std::string* out, std::string_view part) {
  const uint32_t n = static_cast<uint32_t>(part.size());
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 8), static_cast<char>(n)};
  out->append(len, sizeof(len));
  out->append(part);
}

// The first 32 bits of HMAC-SHA-256(key, message), never 0; wipes its temporaries.
uint32_t Fingerprint(const std::array<uint8_t, 32>& key, std::string* message) {
  std::array<uint8_t, tls::kSha256Bytes> mac =
      tls::HmacSha256(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
                      *message);
  uint32_t value = (uint32_t{mac[0]} << 24) | (uint32_t{mac[1]} << 16) | (uint32_t{mac[2]} << 8) |
                   uint32_t{mac[3]};
  SecureWipe(mac.data(), mac.size());
  SecureWipe(message->data(), message->capacity());
  return value == 0 ? 1 : value;
}

}  // namespace

std::string SubnetKey(const proxyproto::IpAddress& address, int v4_prefix, int v6_prefix) {
  proxyproto::IpAddress ip = address.Unmapped();
  const bool v4 = ip.family == proxyproto::Family::kIPv4;
  const int prefix = v4 ? std::clamp(v4_prefix, 0, 32) : std::clamp(v6_prefix, 0, 128);
  const int bytes = v4 ? 4 : 16;
  for (int i = 0; i < bytes; ++i) {
    const int keep = std::clamp(prefix - i * 8, 0, 8);  // leading bits of this byte kept
    const uint8_t mask = keep == 0 ? 0 : static_cast<uint8_t>(0xFF << (8 - keep));
    ip.bytes[static_cast<size_t>(i)] &= mask;
  }
  return proxyproto::FormatIp(ip) + "/" + std::to_string(prefix);
}

std::string NormalizedUser(std::string_view user) {
  std::string out(user.substr(0, kMaxUserBytes));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

LoginKeys MakeLoginKeys(const proxyproto::IpAddress& address, std::string_view user, int v4_prefix,
                        int v6_prefix) {
  LoginKeys keys;
  keys.address = proxyproto::FormatIp(address.Unmapped());
  keys.subnet = SubnetKey(address, v4_prefix, v6_prefix);
  keys.user = NormalizedUser(user);
  return keys;
}

Fingerprinter::Fingerprinter() { tls::RandomBytes(std::span<uint8_t>(key_.data(), key_.size())); }

Fingerprinter::Fingerprinter(const std::array<uint8_t, 32>& key) : key_(key) {}

Fingerprinter::~Fingerprinter() { SecureWipe(key_.data(), key_.size()); }

uint32_t Fingerprinter::Password(std::string_view user, const SecretString& password) const {
  std::string message;
  message.reserve(kPasswordDomain.size() + 8 + user.size() + password.size());
  message.append(kPasswordDomain);
  AppendFramed(&message, user);
  AppendFramed(&message, password.view());
  return Fingerprint(key_, &message);
}

uint32_t Fingerprinter::User(std::string_view user) const {
  std::string message;
  message.reserve(kUserDomain.size() + 4 + user.size());
  message.append(kUserDomain);
  AppendFramed(&message, user);
  return Fingerprint(key_, &message);
}

}  // namespace imapgate::ratelimit
