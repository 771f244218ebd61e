// ExpiringCache and KeyedHasher: the bounded, thread-safe memory behind the auth cache (key: user
// + password) and remembered devices (key: user + client address).
//
// Keys are never the secret or the user name in clear: callers hash them with a KeyedHasher, a
// process-random HMAC-SHA-256 key, so a memory dump of the cache reveals neither and an attacker
// cannot choose keys that collide in the map. Time is passed in (unix seconds); nothing here reads
// a clock.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace imapgate::auth {

// A cache key: the 32-byte output of KeyedHasher::Hash.
using CacheKey = std::array<uint8_t, 32>;

// KeyedHasher is HMAC-SHA-256 under a key drawn at construction (from tls::RandomBytes) that
// never leaves the process. Hash() frames each part with its 8-byte big-endian length, so
// ("ab", "c") and ("a", "bc") hash differently. Immutable after construction: thread-safe. The
// key is wiped on destruction.
class KeyedHasher {
 public:
  // A fresh random key.
  KeyedHasher();
  // A fixed key: for tests.
  explicit KeyedHasher(const std::array<uint8_t, 32>& key) : key_(key) {}
  KeyedHasher(const KeyedHasher&) = delete;
  KeyedHasher& operator=(const KeyedHasher&) = delete;
  ~KeyedHasher();

  // HMAC-SHA-256(key, len(p1) || p1 || len(p2) || p2 ...). The framing buffer is wiped.
  CacheKey Hash(std::initializer_list<std::string_view> parts) const;

 private:
  std::array<uint8_t, 32> key_;
};

// Hashes a CacheKey for unordered_map: its first 8 bytes (already uniformly random).
struct CacheKeyHash {
  size_t operator()(const CacheKey& key) const {
    size_t h = 0;
    for (size_t i = 0; i < sizeof(size_t); ++i) h = (h << 8) | key[i];
    return h;
  }
};

// ExpiringCache maps a CacheKey to a small copyable Value until an expiry time (unix seconds).
// Bounded: at most `max_entries` (rounded up to a multiple of the stripe count; each stripe holds
// an equal share). A Put into a full stripe evicts the entry that expires first, so expired
// entries go first, then the oldest (with one TTL, expiring first = inserted first). Thread-safe:
// the keys are spread over `stripes` mutex-protected maps by a byte of the key.
template <typename Value>
class ExpiringCache {
 public:
  // `max_entries` >= 1; `stripes` >= 1 (16 by default).
  explicit ExpiringCache(size_t max_entries, size_t stripes = 16)
      : stripes_(stripes == 0 ? 1 : stripes),
        per_stripe_((max_entries + stripes_.size() - 1) / stripes_.size()) {
    if (per_stripe_ == 0) per_stripe_ = 1;
  }
  ExpiringCache(const ExpiringCache&) = delete;
  ExpiringCache& operator=(const ExpiringCache&) = delete;

  // Stores (or replaces) `key` -> `value` until `expires_at`.
  void Put(const CacheKey& key, Value value, int64_t expires_at) {
    Stripe& s = StripeOf(key);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.map.find(key);
    if (it != s.map.end()) {
      s.by_expiry.erase(it->second.position);
      it->second.value = std::move(value);
      it->second.expires_at = expires_at;
      it->second.position = s.by_expiry.emplace(expires_at, key);
      return;
    }
    while (s.map.size() >= per_stripe_ && !s.by_expiry.empty()) {
      s.map.erase(s.by_expiry.begin()->second);
      s.by_expiry.erase(s.by_expiry.begin());
    }
    auto position = s.by_expiry.emplace(expires_at, key);
    s.map.emplace(key, Entry{std::move(value), expires_at, position});
  }

  // The value of `key` if present and now < its expiry; an expired entry is dropped.
  std::optional<Value> Get(const CacheKey& key, int64_t now) {
    Stripe& s = StripeOf(key);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.map.find(key);
    if (it == s.map.end()) return std::nullopt;
    if (now >= it->second.expires_at) {
      s.by_expiry.erase(it->second.position);
      s.map.erase(it);
      return std::nullopt;
    }
    return it->second.value;
  }

  // Removes `key`; true when it was present.
  bool Erase(const CacheKey& key) {
    Stripe& s = StripeOf(key);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.map.find(key);
    if (it == s.map.end()) return false;
    s.by_expiry.erase(it->second.position);
    s.map.erase(it);
    return true;
  }

  // Entries held (expired ones not yet dropped included).
  size_t size() const {
    size_t n = 0;
    for (const Stripe& s : stripes_) {
      std::lock_guard<std::mutex> lock(s.mutex);
      n += s.map.size();
    }
    return n;
  }

  // The most entries ever held at once.
  size_t capacity() const { return per_stripe_ * stripes_.size(); }

 private:
  using ExpiryIndex = std::multimap<int64_t, CacheKey>;
  struct Entry {
    Value value;
    int64_t expires_at;
    typename ExpiryIndex::iterator position;
  };
  struct Stripe {
    mutable std::mutex mutex;
    std::unordered_map<CacheKey, Entry, CacheKeyHash> map;
    ExpiryIndex by_expiry;
  };
  // Byte 8 picks the stripe: independent of the bytes CacheKeyHash uses.
  Stripe& StripeOf(const CacheKey& key) { return stripes_[key[8] % stripes_.size()]; }

  std::vector<Stripe> stripes_;
  size_t per_stripe_;
};

}  // namespace imapgate::auth
