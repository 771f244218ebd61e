// StatusBoard: what the status page shows that no other part keeps: the recent refusals (a
// bounded ring, RefusalRing) and the login and TLS handshake counters (atomics).
//
// Ownership: one per process, owned by the Server, outliving its workers and the admin endpoint;
// sessions hold a plain pointer (session::WorkerContext::status). Thread: every method is
// thread-safe. Workers write (Record, CountLogin, CountTlsHandshake); the admin thread reads
// (Recent, Counts). The ring takes a short mutex per call; the counters are relaxed atomics.
// Pure: no I/O, no clock (the caller passes the time).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace imapgate::admin {

// Refusal: one connection or login that imapgate refused, as the status page lists it.
struct Refusal {
  int64_t at_unix_seconds = 0;  // wall clock
  std::string listener;         // the listener's config name
  std::string reason;           // a fixed reason name, e.g. "per_address", "cleartext_login"
  std::string client_address;   // "192.0.2.7:51234" (the real client, after PROXY protocol)
};

// RefusalRing: the last `capacity` refusals; older ones are overwritten. Every field is cut to
// kMaxFieldBytes, so the ring's memory is bounded whatever the input.
class RefusalRing {
 public:
  static constexpr size_t kDefaultCapacity = 50;
  static constexpr size_t kMaxCapacity = 1000;
  // Longest listener, reason and client address kept (longer ones are cut).
  static constexpr size_t kMaxFieldBytes = 64;

  // capacity is clamped to 1..kMaxCapacity.
  explicit RefusalRing(size_t capacity = kDefaultCapacity);

  RefusalRing(const RefusalRing&) = delete;
  RefusalRing& operator=(const RefusalRing&) = delete;

  // Adds one refusal, dropping the oldest when the ring is full.
  void Record(int64_t at_unix_seconds, std::string_view listener, std::string_view reason,
              std::string_view client_address);
  // The refusals kept, newest first (at most capacity()).
  std::vector<Refusal> Recent() const;
  // Refusals recorded since start-up, including those overwritten.
  uint64_t total() const;
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::vector<Refusal> slots_;  // grows to capacity_, then next_ wraps
  size_t next_ = 0;             // where the next refusal goes once slots_ is full
  uint64_t total_ = 0;
};

// StatusCounts: a snapshot of the board's counters.
struct StatusCounts {
  uint64_t logins_ok = 0;
  uint64_t logins_failed = 0;  // wrong credentials, limits, backends or services down
  uint64_t tls_handshakes_ok = 0;
  uint64_t tls_handshakes_failed = 0;
};

class StatusBoard {
 public:
  explicit StatusBoard(size_t refusal_capacity = RefusalRing::kDefaultCapacity)
      : refusals_(refusal_capacity) {}

  // A login ended: accepted (ok) or refused for any reason.
  void CountLogin(bool ok) { (ok ? logins_ok_ : logins_failed_).fetch_add(1, std::memory_order_relaxed); }
  // A client TLS handshake (implicit TLS or STARTTLS) ended.
  void CountTlsHandshake(bool ok) { (ok ? tls_ok_ : tls_failed_).fetch_add(1, std::memory_order_relaxed); }
  StatusCounts Counts() const;

  RefusalRing& refusals() { return refusals_; }
  const RefusalRing& refusals() const { return refusals_; }

 private:
  std::atomic<uint64_t> logins_ok_{0};
  std::atomic<uint64_t> logins_failed_{0};
  std::atomic<uint64_t> tls_ok_{0};
  std::atomic<uint64_t> tls_failed_{0};
  RefusalRing refusals_;
};

}  // namespace imapgate::admin
