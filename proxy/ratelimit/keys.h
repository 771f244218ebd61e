// Keys and fingerprints of issue C's windows: the subnet of an address, the normalized user, and
// keyed 32-bit fingerprints of (user, password) and of a user name, so the windows count distinct
// passwords and distinct users without ever holding either. Pure apart from the process-random
// key drawn by Fingerprinter's default constructor (tls/crypto.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/secret.h"
#include "proxyproto/address.h"
#include "ratelimit/store.h"

namespace imapgate::ratelimit {

// "192.0.2.0/24" for 192.0.2.7 with v4_prefix 24; "2001:db8::/64" for 2001:db8::1 with v6_prefix
// 64 (an IPv4-mapped IPv6 address counts as IPv4). Prefixes are clamped to 0..32 / 0..128.
std::string SubnetKey(const proxyproto::IpAddress& address, int v4_prefix, int v6_prefix);

// The user name as counted: ASCII lower case, at most 256 bytes (longer names are cut there; the
// frontend bounds them far below).
std::string NormalizedUser(std::string_view user);

// The keys of one login from the client's address and user name.
LoginKeys MakeLoginKeys(const proxyproto::IpAddress& address, std::string_view user, int v4_prefix,
                        int v6_prefix);

// Fingerprinter: HMAC-SHA-256 under a key that never leaves the process (or is shared by a fleet
// through the config, so every instance counts the same password as the same), truncated to 32
// bits and never 0. Immutable: thread-safe. The key is wiped on destruction.
class Fingerprinter {
 public:
  Fingerprinter();  // a fresh random key
  explicit Fingerprinter(const std::array<uint8_t, 32>& key);
  Fingerprinter(const Fingerprinter&) = delete;
  Fingerprinter& operator=(const Fingerprinter&) = delete;
  ~Fingerprinter();

  // Of (normalized user, password): the distinct-password count.
  uint32_t Password(std::string_view user, const SecretString& password) const;
  // Of a normalized user name: the distinct-users count of spraying.
  uint32_t User(std::string_view user) const;

 private:
  std::array<uint8_t, 32> key_;
};

}  // namespace imapgate::ratelimit
