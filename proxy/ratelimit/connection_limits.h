// ConnectionLimits: concurrent connections and sessions counted across the workers, with RAII
// slots, for issue C's connection limits:
//   - connections per client address before login (max_per_address_preauth);
//   - sessions per (user, address) and per user after login (max_per_user_address, max_per_user;
//     like Dovecot's mail_max_userip_connections);
//   - connections in all (max_total).
// A slot is taken with TryAcquire* and released when the Slot is destroyed (or Release()d), on any
// thread. Entries exist only while their count is above zero, so memory is bounded by the live
// connections (which the session cap bounds). A limit of 0 means unlimited. Thread-safe (striped
// mutexes; the global count is an atomic). Keys are kept as given (the caller passes the address
// text and the normalized user). The ConnectionLimits must outlive every slot it hands out
// (destroying it with slots still held is a bug: their Release would touch freed memory).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace imapgate::ratelimit {

struct ConnectionLimitsConfig {
  uint32_t max_per_address_preauth = 20;  // abuse.connections.per_address
  uint32_t max_per_user_address = 10;     // abuse.connections.per_user_address
  uint32_t max_per_user = 50;             // abuse.connections.per_user
  uint32_t max_total = 0;                 // abuse.connections.total (0: only the worker caps)
  // New connections per client address per minute (abuse.connections.accepts_per_minute), a
  // sliding window of 6 slots kept for at most max_rate_addresses addresses (LRU).
  uint32_t accepts_per_minute = 0;
  size_t max_rate_addresses = 100'000;
};

class ConnectionLimits;

// One counted connection or session; releases its count when destroyed. Movable.
class ConnectionSlot {
 public:
  ConnectionSlot() = default;
  ConnectionSlot(ConnectionSlot&& other) noexcept;
  ConnectionSlot& operator=(ConnectionSlot&& other) noexcept;
  ~ConnectionSlot();
  // Gives the count back now (idempotent).
  void Release();
  bool held() const { return owner_ != nullptr; }

 private:
  friend class ConnectionLimits;
  enum class Kind : uint8_t { kTotal, kAddress, kUser, kUserAddress };
  ConnectionSlot(ConnectionLimits* owner, Kind kind, std::string key)
      : owner_(owner), kind_(kind), key_(std::move(key)) {}
  ConnectionLimits* owner_ = nullptr;
  Kind kind_ = Kind::kTotal;
  std::string key_;
};

class ConnectionLimits {
 public:
  explicit ConnectionLimits(const ConnectionLimitsConfig& config);
  ~ConnectionLimits();
  ConnectionLimits(const ConnectionLimits&) = delete;
  ConnectionLimits& operator=(const ConnectionLimits&) = delete;

  // The limits may change on reload; slots already held keep counting.
  void SetConfig(const ConnectionLimitsConfig& config);

  // A connection of `address` before login: fails (empty slot) at max_total or at
  // max_per_address_preauth. `total` and `address` come back as two slots; both or none.
  struct PreauthSlots {
    ConnectionSlot total;
    ConnectionSlot address;
    bool ok() const { return total.held() && address.held(); }
    // Which limit refused: "total" or "per_address" ("" when ok).
    const char* refused_by = "";
  };
  PreauthSlots TryAcquirePreauth(const std::string& address);
  // A connection that only the total bounds (a trusted peer's: no per-address count): a held
  // slot, or an empty one at max_total.
  ConnectionSlot TryAcquireTotal();

  // Counts a new connection of `address` at `now_ms` (monotonic) against accepts_per_minute;
  // false when it is over (the connection is refused and still counted).
  bool TryAccept(const std::string& address, int64_t now_ms);

  // A logged-in session of `user` from `address`: fails at max_per_user or max_per_user_address.
  struct SessionSlots {
    ConnectionSlot user;
    ConnectionSlot user_address;
    bool ok() const { return user.held() && user_address.held(); }
    const char* refused_by = "";  // "per_user" or "per_user_address"
  };
  SessionSlots TryAcquireSession(const std::string& user, const std::string& address);

  // Current counts (tests, admin).
  uint32_t total() const;
  uint32_t address_count(const std::string& address) const;
  uint32_t user_count(const std::string& user) const;
  uint32_t user_address_count(const std::string& user, const std::string& address) const;

 private:
  friend class ConnectionSlot;
  class Impl;
  void Release(ConnectionSlot::Kind kind, const std::string& key);
  std::unique_ptr<Impl> impl_;
};

}  // namespace imapgate::ratelimit
