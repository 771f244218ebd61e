// EvaluateReadiness.

#include "admin/readiness.h"

namespace imapgate::admin {
namespace {

Readiness NotReady(std::string reason) {
  if (reason.size() > kMaxReasonBytes) {
    reason.resize(kMaxReasonBytes - 3);
    reason += "...";
  }
  return Readiness{false, std::move(reason)};
}

// "shard b: no backend up (b1 down, b2 draining)", or "" when one of its backends takes logins.
std::string ShardProblem(const ShardInfo& shard) {
  if (shard.backends.empty()) return "shard " + shard.name + ": no backend configured";
  std::string states;
  for (const BackendInfo& b : shard.backends) {
    if (b.state == BackendState::kUp) return "";
    if (!states.empty()) states += ", ";
    states += b.name + " " + std::string(BackendStateName(b.state));
    if (states.size() > kMaxReasonBytes) break;  // the rest would be cut anyway
  }
  return "shard " + shard.name + ": no backend up (" + states + ")";
}

}  // namespace

Readiness EvaluateReadiness(const StatusInfo& status) {
  if (status.draining) return NotReady("draining");
  if (!status.config_loaded) return NotReady("no configuration loaded");
  if (!status.listeners_bound) return NotReady("listeners not bound");
  if (status.shards.empty()) return NotReady("no shard configured");
  std::string problems;
  for (const ShardInfo& shard : status.shards) {
    std::string p = ShardProblem(shard);
    if (p.empty()) continue;
    if (!problems.empty()) problems += "; ";
    problems += p;
    if (problems.size() > kMaxReasonBytes) break;
  }
  if (!problems.empty()) return NotReady(std::move(problems));
  return Readiness{true, "ready"};
}

}  // namespace imapgate::admin
