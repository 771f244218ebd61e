// AbuseServices: the process-wide part of issue C's abuse defence — the fingerprint key, the
// connection counts shared by every worker, and the store (one MemoryStore shared by all
// workers, or one Redis connection per loop for a fleet). Owned by the Server (shared_ptr, so
// each worker's runtime keeps it alive), created once at start-up; what it holds does not change
// on reload (the store kind, its size and the fingerprint key need a restart; the thresholds and
// limits are each generation's AbusePlan).
//
// Thread-safe: Fingerprinter and ConnectionLimits are; the MemoryStore is; StoreFor is called by
// each worker (and the admin endpoint) on its own loop thread for its own store.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "common/time_source.h"
#include "config/abuse_config.h"
#include "net/event_loop.h"
#include "ratelimit/connection_limits.h"
#include "ratelimit/keys.h"
#include "ratelimit/memory_store.h"
#include "ratelimit/store.h"

namespace imapgate::stats {
class Metrics;
}

namespace imapgate::abuse {

// What the fleet tells a worker (through a fleet store's bus): a user's sessions are to end
// (kick), or the user moved to another shard (move: new logins go there; its sessions end).
struct FleetNotice {
  enum class Kind { kKick, kMove } kind = Kind::kKick;
  std::string user;   // normalized
  std::string shard;  // kMove
};
using FleetListener = std::function<void(const FleetNotice&)>;

class AbuseServices {
 public:

  // `time` and `metrics` (may be null in tests) outlive the services.
  static StatusOr<std::shared_ptr<AbuseServices>> Create(const config::AbuseConfig& config, const TimeSource* time,
                                                         stats::Metrics* metrics);

  const ratelimit::Fingerprinter& fingerprints() const { return *fingerprints_; }
  ratelimit::ConnectionLimits& connections() { return connections_; }
  // The store a loop uses: the shared MemoryStore (through a non-owning handle), or a new fleet
  // store on `loop` (store: redis; owned by the caller, destroyed on that loop's thread), whose
  // kicks and moves from other instances reach `listener` on that loop.
  StatusOr<ratelimit::StorePtr> StoreFor(net::EventLoop* loop, FleetListener listener = {});
  // Tells the rest of the fleet through `store` (one StoreFor made); false without a fleet store
  // or when the notice does not encode. The sender applies it locally itself.
  static bool PublishToFleet(ratelimit::Store* store, const FleetNotice& notice);
  bool fleet() const { return redis_.has_value(); }
  // The in-process store, null with a fleet store.
  ratelimit::MemoryStore* memory_store() { return fleet() ? nullptr : memory_.get(); }

 private:
  AbuseServices(const config::AbuseConfig& config, const TimeSource* time);

  std::unique_ptr<ratelimit::Fingerprinter> fingerprints_;
  ratelimit::ConnectionLimits connections_;
  std::unique_ptr<ratelimit::MemoryStore> memory_;
  ratelimit::Policy policy_;            // the fleet store's window shape and remember_for
  const TimeSource* time_;
  std::optional<config::AbuseRedisConfig> redis_;  // store: redis
};

}  // namespace imapgate::abuse
