#include "health/health_state.h"

#include <algorithm>
#include <string>

namespace imapgate::health {
namespace {

int Clamp(int v) { return std::clamp(v, HealthPolicy::kMinThreshold, HealthPolicy::kMaxThreshold); }

}  // namespace

const char* CheckOutcomeName(CheckOutcome outcome) {
  switch (outcome) {
    case CheckOutcome::kOk:
      return "ok";
    case CheckOutcome::kConnectFailed:
      return "connect_failed";
    case CheckOutcome::kTimeout:
      return "timeout";
    case CheckOutcome::kBadGreeting:
      return "bad_greeting";
    case CheckOutcome::kTlsFailed:
      return "tls_failed";
    case CheckOutcome::kProtocolError:
      return "protocol_error";
    case CheckOutcome::kCount:
      break;
  }
  return "unknown";
}

Status HealthPolicy::Validate() const {
  const std::string bounds =
      " must be between " + std::to_string(kMinThreshold) + " and " + std::to_string(kMaxThreshold);
  if (rise < kMinThreshold || rise > kMaxThreshold)
    return InvalidArgument("health check rise" + bounds);
  if (fall < kMinThreshold || fall > kMaxThreshold)
    return InvalidArgument("health check fall" + bounds);
  return Status::Ok();
}

UpDownState InitialState(const HealthPolicy& policy) {
  UpDownState s;
  s.up = policy.start_up;
  s.streak_ok = policy.start_up;
  s.streak = 0;
  return s;
}

UpDownState NextState(UpDownState state, bool ok, const HealthPolicy& policy) {
  const int rise = Clamp(policy.rise);
  const int fall = Clamp(policy.fall);
  const int cap = std::max(rise, fall);
  if (state.streak_ok == ok) {
    state.streak = static_cast<uint16_t>(std::min<int>(state.streak + 1, cap));
  } else {
    state.streak_ok = ok;
    state.streak = 1;
  }
  if (state.up && !ok && state.streak >= fall) state.up = false;
  if (!state.up && ok && state.streak >= rise) state.up = true;
  return state;
}

uint32_t Pack(UpDownState state) {
  return (state.up ? 1u : 0u) | (state.streak_ok ? 2u : 0u) |
         (static_cast<uint32_t>(state.streak) << 16);
}

UpDownState Unpack(uint32_t word) {
  UpDownState s;
  s.up = (word & 1u) != 0;
  s.streak_ok = (word & 2u) != 0;
  s.streak = static_cast<uint16_t>(word >> 16);
  return s;
}

}  // namespace imapgate::health
