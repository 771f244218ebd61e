// Readiness: whether this instance should get new clients now (GET /readyz), judged from a
// StatusInfo. Pure: no clock, no I/O; unit-tested with hand-built states.
//
// Ready when no graceful drain is under way, a configuration is loaded, every client listener is
// bound, and every shard has at least one backend that is up and not draining. Otherwise the
// reason names what is not ready, e.g. "shard b: no backend up (b1 down, b2 draining)"; several
// shards are joined with "; ". The reason is at most kMaxReasonBytes (cut with "...").
#pragma once

#include <cstddef>
#include <string>

#include "admin/admin_control.h"

namespace imapgate::admin {

struct Readiness {
  bool ready = false;
  std::string reason;  // "ready" when ready
};

// Longest reason returned (a config with many shards and backends is cut).
inline constexpr size_t kMaxReasonBytes = 1024;

Readiness EvaluateReadiness(const StatusInfo& status);

}  // namespace imapgate::admin
