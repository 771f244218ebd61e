#include "ratelimit/policy.h"

#include <algorithm>

namespace imapgate::ratelimit {
namespace {

// How far `count` is past `threshold` (1 at the threshold), 0 below it or when disabled.
uint32_t Excess(uint32_t count, uint32_t threshold) {
  if (threshold == 0 || count < threshold) return 0;
  return count - threshold + 1;
}

bool Reached(uint32_t count, uint32_t threshold) { return threshold != 0 && count >= threshold; }

}  // namespace

const char* BlockScopeName(BlockScope scope) {
  switch (scope) {
    case BlockScope::kAddress: return "address";
    case BlockScope::kSubnet: return "subnet";
  }
  return "unknown";
}

const char* ActionReasonName(ActionReason reason) {
  switch (reason) {
    case ActionReason::kNone: return "none";
    case ActionReason::kAddressBlocked: return "address_blocked";
    case ActionReason::kSubnetBlocked: return "subnet_blocked";
    case ActionReason::kUserUnderAttack: return "user_under_attack";
    case ActionReason::kAddressFailures: return "address_failures";
    case ActionReason::kGlobalSurge: return "global_surge";
  }
  return "unknown";
}

const char* BlockCauseName(BlockCause cause) {
  switch (cause) {
    case BlockCause::kAddressFailures: return "address_failures";
    case BlockCause::kSpraying: return "spraying";
    case BlockCause::kSubnetFailures: return "subnet_failures";
    case BlockCause::kOperator: return "operator";
  }
  return "unknown";
}

std::chrono::milliseconds TarpitDelay(const Policy& policy, uint32_t excess) {
  const int64_t base = std::max<int64_t>(policy.tarpit_base.count(), 0);
  const int64_t cap = std::max<int64_t>(policy.tarpit_max.count(), 0);
  if (excess == 0 || base == 0) return std::chrono::milliseconds(0);
  const uint32_t shift = excess - 1;
  // base << shift, without overflow: anything that would pass the cap is the cap.
  if (shift >= 62 || base > (cap >> shift)) return std::chrono::milliseconds(cap);
  return std::chrono::milliseconds(std::min(base << shift, cap));
}

PreLoginDecision DecideBeforeLogin(const Policy& policy, const PreLoginFacts& facts) {
  PreLoginDecision d;
  const LoginCounts& c = facts.counts;
  if (facts.blocked) {
    d.kind = PreLoginDecision::Kind::kRefuse;
    d.reason = *facts.blocked == BlockScope::kAddress ? ActionReason::kAddressBlocked
                                                      : ActionReason::kSubnetBlocked;
    return d;
  }
  // Under attack: only the addresses that succeeded for the user before keep access.
  if (Reached(c.user, policy.user_under_attack_after) && !facts.remembered) {
    d.kind = PreLoginDecision::Kind::kRefuse;
    d.reason = ActionReason::kUserUnderAttack;
    return d;
  }
  // The address's own failures always count; the (user, address) pair's and the global surge
  // spare a remembered address.
  uint32_t excess = Excess(c.address, policy.tarpit_after);
  if (!facts.remembered) excess = std::max(excess, Excess(c.user_address, policy.tarpit_after));
  std::chrono::milliseconds delay = TarpitDelay(policy, excess);
  ActionReason reason = excess > 0 ? ActionReason::kAddressFailures : ActionReason::kNone;
  if (!facts.remembered && Reached(c.global, policy.global_surge_after) &&
      delay < policy.tarpit_base) {
    delay = policy.tarpit_base;
    reason = ActionReason::kGlobalSurge;
  }
  if (delay.count() > 0) {
    d.kind = PreLoginDecision::Kind::kTarpit;
    d.reason = reason;
    d.delay = delay;
  }
  return d;
}

std::optional<BlockOrder> DecideAfterFailure(const Policy& policy, const LoginCounts& after) {
  if (Reached(after.address, policy.block_address_after)) {
    return BlockOrder{BlockScope::kAddress, BlockCause::kAddressFailures};
  }
  if (Reached(after.users_tried, policy.block_spraying_after)) {
    return BlockOrder{BlockScope::kAddress, BlockCause::kSpraying};
  }
  if (Reached(after.subnet, policy.block_subnet_after)) {
    return BlockOrder{BlockScope::kSubnet, BlockCause::kSubnetFailures};
  }
  return std::nullopt;
}

}  // namespace imapgate::ratelimit
