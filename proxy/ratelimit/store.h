// Store: where the abuse windows, blocks and remembered addresses live — in this process
// (MemoryStore) or in Redis for a fleet (RedisStore).
//
// Every call answers through a callback on the caller's worker loop; MemoryStore answers inside
// the call, RedisStore later. A store that cannot answer (Redis down) answers `ok = false` with
// empty facts: the caller then applies the configured failure mode (fail-open by default) and
// counts it. A store never keeps a callback past its own destruction. Thread: MemoryStore is
// shared by every worker and is thread-safe; a RedisStore belongs to one loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ratelimit/policy.h"

namespace imapgate::ratelimit {

// The keys of one login. Texts are what an operator sees in the admin API; the stores may hash
// them. `user` is normalized (lower case) by the caller.
struct LoginKeys {
  std::string address;  // "192.0.2.7", "2001:db8::1"
  std::string subnet;   // "192.0.2.0/24", "2001:db8::/64"
  std::string user;     // "alice@demo.test"
};

// A failed login to count: keyed-hash fingerprints (never the secret), non-zero.
struct FailureEvent {
  uint32_t password_fingerprint = 0;  // of (user, password)
  uint32_t user_fingerprint = 0;      // of the user name (spraying)
};

// A block as listed by the admin API.
struct BlockEntry {
  BlockScope scope = BlockScope::kAddress;
  std::string key;  // the address or subnet text
  BlockCause cause = BlockCause::kAddressFailures;
  std::chrono::milliseconds remaining{0};
};

// An address's or a user's counters, for the admin API (failures within the window).
struct KeyReport {
  std::string key;
  uint32_t failures = 0;       // address / user / subnet failures
  uint32_t users_tried = 0;    // address only
  std::optional<BlockEntry> block;
};

struct PreLoginAnswer {
  bool ok = true;  // false: the store could not answer (facts are empty)
  PreLoginFacts facts;
};

struct FailureAnswer {
  bool ok = true;
  LoginCounts counts;  // after counting this failure
};

class Store {
 public:
  virtual ~Store() = default;
  // The counts, a block of the address or subnet, and whether the address is remembered for the
  // user; `done` once.
  virtual void Check(const LoginKeys& keys, std::function<void(PreLoginAnswer)> done) = 0;
  // Counts a failed login in every window (password fingerprint: address, subnet, user,
  // (user, address), global; user fingerprint: users tried from the address); answers the counts
  // after it.
  virtual void RecordFailure(const LoginKeys& keys, const FailureEvent& event,
                             std::function<void(FailureAnswer)> done) = 0;
  // Remembers that `keys.address` succeeded for `keys.user` (for policy.remember_for).
  virtual void RecordSuccess(const LoginKeys& keys) = 0;
  // Blocks an address or subnet for `duration` (a fleet store tells every instance).
  virtual void Block(BlockScope scope, const std::string& key, BlockCause cause,
                     std::chrono::milliseconds duration) = 0;
  // Lifts a block; `done(true)` if there was one.
  virtual void Unblock(BlockScope scope, const std::string& key, std::function<void(bool)> done) = 0;
  // The blocks in force (at most `limit`).
  virtual void ListBlocks(size_t limit, std::function<void(bool ok, std::vector<BlockEntry>)> done) = 0;
  // An address's counters (with its subnet's block) or a user's.
  virtual void ReportAddress(const LoginKeys& keys, std::function<void(bool ok, KeyReport)> done) = 0;
  virtual void ReportUser(const std::string& user, std::function<void(bool ok, KeyReport)> done) = 0;
  // Whether an address or its subnet is blocked, from what this process knows now (no round
  // trip): used at connect, before a byte is read. A fleet store keeps a local copy of the fleet's
  // blocks, fed by its subscription.
  virtual std::optional<BlockScope> BlockedNow(const std::string& address,
                                               const std::string& subnet) = 0;
};

using StorePtr = std::unique_ptr<Store>;

}  // namespace imapgate::ratelimit
