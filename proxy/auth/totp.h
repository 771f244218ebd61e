// One-time passwords: base32 secrets (RFC 4648), HOTP (RFC 4226) and TOTP (RFC 6238) with
// HMAC-SHA-1, the "password+code" split, and a replay cache so each code works once.
//
// All functions are pure and thread-safe; time is passed in (unix seconds). Codes are compared
// in constant time; no function logs or puts a code or key in an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "auth/expiring_cache.h"
#include "common/secret.h"

namespace imapgate::auth {

// Longest base32 text DecodeBase32 accepts (padding included): 160 bytes of key, far above the
// 20 bytes RFC 4226 recommends.
inline constexpr size_t kMaxBase32Chars = 256;

// DecodeBase32 decodes RFC 4648 base32 (A-Z, 2-7; case-insensitive; '=' padding optional, but
// when present it must complete the last 8-character group). Returns the key bytes in wiped
// memory, or nullopt for empty, over-long or malformed text (any other character, or a length
// that no byte count encodes). Bits left over in the last character are ignored.
std::optional<SecretString> DecodeBase32(std::string_view text);

// Hotp is the RFC 4226 HOTP value of `key` at `counter`: HMAC-SHA-1, dynamic truncation, modulo
// 10^digits. `digits` must be 1..9 (other values give 0).
uint32_t Hotp(std::string_view key, uint64_t counter, int digits);

// TOTP settings (RFC 6238): the time step, the code length, and how many steps before and after
// the current one are accepted (clock skew). VerifyTotp refuses values outside step 1..3600,
// digits 6..9, skew 0..10.
struct TotpParams {
  int step_seconds = 30;
  int digits = 6;
  int skew_steps = 1;
};

// VerifyTotp checks `code` (exactly params.digits ASCII digits) against the TOTP of `key` for
// every step in [T - skew, T + skew], T = unix_seconds / step, comparing each candidate in
// constant time and always trying all of them. Returns the time-step counter that matched (for
// TotpReplayCache), or nullopt. nullopt too for a malformed code, bad params or negative time.
std::optional<uint64_t> VerifyTotp(std::string_view key, std::string_view code,
                                   int64_t unix_seconds, const TotpParams& params);

// The two halves of "password+code" (views into the caller's string).
struct OtpSplit {
  std::string_view password;
  std::string_view code;
};

// SplitOtpSuffix splits off the last `digits` characters when they are all ASCII digits and at
// least one character precedes them; nullopt otherwise (or when digits < 1).
std::optional<OtpSplit> SplitOtpSuffix(std::string_view secret, int digits);

// TotpReplayCache remembers, per user, the last time-step counter accepted, so a code (or an
// older one) cannot be used twice. Users are kept as a KeyedHasher hash, never in clear.
// Bounded: at most `max_entries` users; when full, expired entries go first, then the one
// touched least recently (whose code could then be replayed: size the bound above the number of
// TOTP users active within one window). An entry expires (2*skew+1)*step seconds after it was
// recorded, when no code it guards can still verify. Thread-safe (one mutex).
class TotpReplayCache {
 public:
  explicit TotpReplayCache(size_t max_entries, TotpParams params = {});
  TotpReplayCache(const TotpReplayCache&) = delete;
  TotpReplayCache& operator=(const TotpReplayCache&) = delete;

  // Returns true and records `counter` when it is newer than the last counter accepted for
  // `user` (or none is remembered); false when that counter or a newer one was already used.
  bool Consume(std::string_view user, uint64_t counter, int64_t now_unix);

  // Users remembered (expired ones not yet dropped included).
  size_t size() const;

 private:
  struct Entry {
    uint64_t last_counter;
    int64_t expires_at;
    std::list<CacheKey>::iterator position;  // in order_, least recently touched first
  };
  const size_t max_entries_;
  const int64_t window_seconds_;
  KeyedHasher hasher_;
  mutable std::mutex mutex_;
  std::unordered_map<CacheKey, Entry, CacheKeyHash> entries_;
  std::list<CacheKey> order_;
};

}  // namespace imapgate::auth
