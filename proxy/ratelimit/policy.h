// Abuse policy: the thresholds of issue C and the pure decisions taken from a key's counts.
//
// Counted per login failure (distinct passwords, see window.h): the client address, its subnet
// (/24 IPv4, /64 IPv6), the user name, the (user, address) pair and everything (global); and per
// address the distinct user names it failed with (spraying). From those counts:
//   - a tarpit: the login waits base × 2^(n − tarpit_after) (capped) before it is checked, where n
//     is how far the worst of address / (user, address) is past its tarpit threshold;
//   - a block of the address (address or spraying threshold) or of the subnet (subnet threshold)
//     for block_for: refused at connect (`* BYE`) and at login (`NO [UNAVAILABLE]`);
//   - a user under attack (user threshold): logins for that user are refused from addresses that
//     never succeeded for it (remembered by keyed hash for remember_for); addresses that did keep
//     logging in, untarpitted — there is never a global lock-out of a user;
//   - a global surge (global threshold): every login not from a remembered address gets the base
//     tarpit.
// A threshold of 0 disables its rule. Pure: no clock, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "ratelimit/window.h"

namespace imapgate::ratelimit {

// Counters of one login's keys (failures within the window).
struct LoginCounts {
  uint32_t address = 0;       // distinct failed passwords from the client address
  uint32_t subnet = 0;        // ... from its subnet
  uint32_t user = 0;          // ... for the user name, from anywhere
  uint32_t user_address = 0;  // ... for the user from this address
  uint32_t global = 0;        // ... everywhere
  uint32_t users_tried = 0;   // distinct user names that failed from this address
};

// A block in force (or to set).
enum class BlockScope : uint8_t { kAddress, kSubnet };
const char* BlockScopeName(BlockScope scope);  // "address", "subnet"

// What to decide with; `config` keys under `abuse:` (see conf/imapgate.yaml).
struct Policy {
  WindowSpec window;                       // abuse.window, abuse.window_buckets
  int subnet_prefix_v4 = 24;               // abuse.subnet_prefix_v4
  int subnet_prefix_v6 = 64;               // abuse.subnet_prefix_v6
  // Tarpit.
  uint32_t tarpit_after = 3;               // address or (user, address) failures
  std::chrono::milliseconds tarpit_base{1000};
  std::chrono::milliseconds tarpit_max{15000};
  // Blocks.
  uint32_t block_address_after = 20;       // address failures
  uint32_t block_subnet_after = 100;       // subnet failures
  uint32_t block_spraying_after = 10;      // distinct user names failed from one address
  std::chrono::milliseconds block_for{15 * 60 * 1000};
  // Users under attack and the addresses that keep access.
  uint32_t user_under_attack_after = 10;   // user failures from anywhere
  std::chrono::milliseconds remember_for{30LL * 24 * 3600 * 1000};  // a success's address
  // Global surge.
  uint32_t global_surge_after = 0;         // 0: off
};

// Why a login is refused or delayed (metric label values; bounded).
enum class ActionReason : uint8_t {
  kNone,
  kAddressBlocked,
  kSubnetBlocked,
  kUserUnderAttack,
  kAddressFailures,      // tarpit: address / (user, address) past tarpit_after
  kGlobalSurge,          // tarpit: global past global_surge_after
};
const char* ActionReasonName(ActionReason reason);  // "address_blocked", ...

// The decision before a login's credentials are checked.
struct PreLoginDecision {
  enum class Kind : uint8_t { kAllow, kTarpit, kRefuse } kind = Kind::kAllow;
  ActionReason reason = ActionReason::kNone;
  std::chrono::milliseconds delay{0};  // kTarpit
};

// What the store knows about a login's keys before the check.
struct PreLoginFacts {
  LoginCounts counts;
  std::optional<BlockScope> blocked;  // the address or its subnet is blocked now
  bool remembered = false;            // this address succeeded for this user within remember_for
};

// The decision before the check: refuse (blocked; user under attack and not remembered), tarpit
// (address or (user, address) failures past tarpit_after; a global surge), or allow.
PreLoginDecision DecideBeforeLogin(const Policy& policy, const PreLoginFacts& facts);

// The tarpit delay for being `excess` (>= 1) failures past a threshold: base × 2^(excess − 1),
// at most tarpit_max.
std::chrono::milliseconds TarpitDelay(const Policy& policy, uint32_t excess);

// After a failed login has been counted: the block to set now, if any (the address when its
// failures or the user names it tried reach their thresholds; else the subnet when its failures
// do).
enum class BlockCause : uint8_t { kAddressFailures, kSpraying, kSubnetFailures, kOperator };
const char* BlockCauseName(BlockCause cause);  // "address_failures", "spraying", ...
struct BlockOrder {
  BlockScope scope;
  BlockCause cause;
};
std::optional<BlockOrder> DecideAfterFailure(const Policy& policy, const LoginCounts& after);

}  // namespace imapgate::ratelimit
