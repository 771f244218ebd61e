// BackendHealthTable: the health of every backend, shared by all workers, the health checker and
// the admin API.
//
// One entry per backend name, found by index. Entries are added under a lock (start-up, reload:
// Add() keeps a name's index and its state, so a reload that keeps a backend keeps whether it is
// up or draining) and never removed; the capacity is fixed at construction.
//
// Threading: the read path (IsUsable, FirstUsable, IsUp, IsDraining, ActiveSessions) is a few
// atomic loads, no lock. Results are written by the checker (RecordCheck) and by any worker
// (RecordPassive) with a compare-and-swap on one word; a passive success on a healthy backend
// changes nothing and writes nothing. Sessions are counted with atomic adds. Only the texts
// (the last check's detail, the last failure) sit behind a per-entry mutex, taken on failures,
// on active checks and by Snapshot() — never by a successful login.
//
// Every change of state (up→down, down→up, drain, undrain) is reported exactly once to the
// change observer, on the thread that made it (the one whose CAS won), with no lock held. The
// default observer logs it (LogStateChange).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "health/health_state.h"

namespace imapgate::health {

// What changed, for the observer. The views are valid during the call only.
struct StateChange {
  enum class Kind { kDown, kUp, kDraining, kUndrained };
  enum class Source { kCheck, kLogin, kOperator };  // active check, passive mark, SetDraining
  size_t backend = 0;
  std::string_view name;
  Kind kind = Kind::kDown;
  Source source = Source::kCheck;
  std::string_view reason;  // the failure that took it down; empty otherwise
  std::string_view shard;   // the backend's shard (SetShard); empty when not set
  // The state before and after: "up", "down" or "draining" (a drain goes from up or down to
  // draining; an undrain from draining to up or down).
  std::string_view from;
  std::string_view to;
};
const char* StateChangeKindName(StateChange::Kind kind);  // "down", "up", "draining", "undrained"
const char* StateChangeSourceName(StateChange::Source source);  // "check", "login", "operator"

// The default observer: one log line per change (event backend_state with backend, shard, from,
// to, state (= to, or "undrained"), via and, on a down, reason; warn for down).
void LogStateChange(const StateChange& change);

// A consistent-enough copy of one entry for the admin API (fields are read one by one).
struct BackendStatus {
  std::string name;
  bool up = false;
  bool draining = false;
  int64_t active_sessions = 0;
  bool checked = false;  // false until the first active check finished
  CheckOutcome last_check = CheckOutcome::kOk;
  std::chrono::system_clock::time_point last_check_time;  // wall time, as injected
  std::string last_check_detail;                          // empty on success
  std::string last_failure;                               // the last failure seen (check or login)
};

class BackendHealthTable {
 public:
  using ChangeObserver = std::function<void(const StateChange&)>;
  static constexpr size_t kDefaultCapacity = 1024;
  // Bound on the stored detail texts (a backend's greeting can be long).
  static constexpr size_t kMaxDetailBytes = 256;

  explicit BackendHealthTable(HealthPolicy policy, ChangeObserver on_change = LogStateChange,
                              size_t capacity = kDefaultCapacity);
  ~BackendHealthTable();
  BackendHealthTable(const BackendHealthTable&) = delete;
  BackendHealthTable& operator=(const BackendHealthTable&) = delete;

  // The index of backend `name`, adding it in the policy's starting state the first time (the
  // same name always gets the same index). kResourceExhausted past the capacity,
  // kInvalidArgument for an empty name. Takes a lock: for start-up and reload, not per login.
  StatusOr<size_t> Add(std::string_view name);
  // The index of a known name; nullopt otherwise. Takes the same lock.
  std::optional<size_t> Find(std::string_view name) const;
  // Entries added so far; indices 0..size()-1 are valid.
  size_t size() const { return size_.load(std::memory_order_acquire); }
  // Labels entry i with its shard's name for the change lines (a reload may move a backend to
  // another shard); takes the entry's text lock. An unknown index is ignored.
  void SetShard(size_t i, std::string_view shard);
  // The name of entry i (stable for the table's lifetime); empty for an unknown index.
  std::string_view name(size_t i) const;
  const HealthPolicy& policy() const { return policy_; }

  // --- Read path (lock-free; an unknown index reads as down, not draining, 0 sessions).
  bool IsUp(size_t i) const;
  bool IsDraining(size_t i) const;
  // Up and not draining: may take a new login.
  bool IsUsable(size_t i) const;
  int64_t ActiveSessions(size_t i) const;
  // Counts the times backend i stopped taking logins (went down, or began draining); 0 at first.
  // A warm connection kept for it records this when made and is dropped when it differs (or
  // when IsUsable is false) instead of being handed to a login: one atomic load, no callback
  // into other workers' loops.
  uint64_t UnusableEpoch(size_t i) const;
  // Everything about entry i, for the admin API and metrics (takes the entry's text lock).
  BackendStatus Snapshot(size_t i) const;

  // --- Writes (any thread; an unknown index is ignored).
  // An active check's result at wall time `now`; `detail` says why it failed (never a secret).
  void RecordCheck(size_t i, CheckOutcome outcome, std::string_view detail,
                   std::chrono::system_clock::time_point now);
  // A real login's backend connect: ok when the backend greeted and answered (a NO to the
  // user's password is still ok for health); a failure when the connect, TLS, greeting or
  // protocol failed or timed out. Counts as one check result for rise and fall.
  void RecordPassive(size_t i, bool ok, std::string_view detail = {});
  // The operator's drain flag; returns true if it changed.
  bool SetDraining(size_t i, bool draining);
  // Active sessions relayed to backend i (a worker calls Ended once per Started).
  void SessionStarted(size_t i);
  void SessionEnded(size_t i);

 private:
  struct Entry;
  const Entry* At(size_t i) const;
  std::string ShardOf(const Entry& e) const;  // takes e's text lock
  Entry* At(size_t i);
  // Applies one result; reports a change of up/down to the observer.
  void Apply(size_t i, Entry& e, bool ok, std::string_view detail, StateChange::Source source);

  const HealthPolicy policy_;
  const ChangeObserver on_change_;
  const size_t capacity_;
  std::unique_ptr<Entry[]> entries_;
  std::atomic<size_t> size_{0};
  mutable std::mutex add_mu_;  // Add and Find
  std::map<std::string, size_t, std::less<>> index_;
};

// The position in `order` (a shard's backends in failover order, as table indices) of the first
// usable backend at or after position `from`; nullopt when none is left. A login calls it with
// from = 0, and after a failed connect with from = the failed position + 1. Lock-free.
std::optional<size_t> FirstUsable(const BackendHealthTable& table, std::span<const size_t> order,
                                  size_t from = 0);

// Counts one active session on backend i for its lifetime (SessionStarted / SessionEnded).
class ActiveSession {
 public:
  ActiveSession() = default;
  ActiveSession(BackendHealthTable* table, size_t i) : table_(table), index_(i) {
    if (table_ != nullptr) table_->SessionStarted(index_);
  }
  ActiveSession(ActiveSession&& o) noexcept
      : table_(std::exchange(o.table_, nullptr)), index_(o.index_) {}
  ActiveSession& operator=(ActiveSession&& o) noexcept {
    if (this != &o) {
      Reset();
      table_ = std::exchange(o.table_, nullptr);
      index_ = o.index_;
    }
    return *this;
  }
  ~ActiveSession() { Reset(); }
  void Reset() {
    if (table_ != nullptr) std::exchange(table_, nullptr)->SessionEnded(index_);
  }

 private:
  BackendHealthTable* table_ = nullptr;
  size_t index_ = 0;
};

}  // namespace imapgate::health
