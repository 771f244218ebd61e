// The health of one backend as pure logic: up or down, moved by runs of check results with rise
// and fall thresholds (HAProxy's model), so a flapping backend does not thrash between the two.
// Draining is not here: it is an operator's flag, orthogonal to up/down, kept beside this state
// by BackendHealthTable.
//
// The state is a small value (UpDownState) with a pure transition (NextState) and a 32-bit
// packing, so the table can keep it in one atomic word and update it with a compare-and-swap.
// No I/O, no clock, no locks.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace imapgate::health {

// How a check ended (active, or a real login's connect reported passively); one metric label
// value each (imapgate_health_checks_total{result}).
enum class CheckOutcome : uint8_t {
  kOk,
  kConnectFailed,  // refused, unreachable, no socket
  kTimeout,        // no connect, greeting or answer within the check timeout
  kBadGreeting,    // not IMAP, PREAUTH, BYE or not OK
  kTlsFailed,      // TLS handshake failed, STARTTLS missing or refused
  kProtocolError,  // closed early, read/write error, over-long line, CAPABILITY refused, ...
  kCount           // not an outcome
};
// "ok", "connect_failed", "timeout", "bad_greeting", "tls_failed", "protocol_error".
const char* CheckOutcomeName(CheckOutcome outcome);

// Thresholds and the starting state; the same for every backend of a table.
struct HealthPolicy {
  // Bounds for rise and fall (Validate refuses values outside; NextState clamps).
  static constexpr int kMinThreshold = 1;
  static constexpr int kMaxThreshold = 1000;

  int rise = 2;  // consecutive successes that bring a down backend up
  int fall = 3;  // consecutive failures that take an up backend down
  // The state before any result. Up by default ("up until proven down"): a fresh start, or a
  // reload that adds a backend, serves logins at once instead of refusing them all for
  // rise × interval while the first checks run. A backend that is in fact dead costs little
  // meanwhile: its connect fails fast, the login fails over to the next backend of the shard,
  // and passive marks plus the first checks take it down within `fall` results.
  bool start_up = true;

  // kInvalidArgument naming the field when rise or fall is out of bounds.
  Status Validate() const;
};

// The up/down half of a backend's health: its state and the current run of identical results.
struct UpDownState {
  bool up = true;
  bool streak_ok = true;  // whether the current run is of successes or of failures
  uint16_t streak = 0;    // its length, saturated at max(rise, fall) (so a steady state is stable)

  friend bool operator==(const UpDownState&, const UpDownState&) = default;
};

// The state before any result.
UpDownState InitialState(const HealthPolicy& policy);

// The state after one more result. Up goes down after `fall` failures in a row; down goes up
// after `rise` successes in a row; any other result only extends or restarts the run. A steady
// state (up with successes, down with failures, run saturated) maps to itself, so callers can
// skip the write.
UpDownState NextState(UpDownState state, bool ok, const HealthPolicy& policy);

// One 32-bit word for an atomic, and back. Unpack(Pack(s)) == s.
uint32_t Pack(UpDownState state);
UpDownState Unpack(uint32_t word);

}  // namespace imapgate::health
