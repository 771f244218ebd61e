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

class AbuseServices {
 public:
  // Makes a fleet store for one loop (set for store: redis).
  using StoreFactory = std::function<StatusOr<ratelimit::StorePtr>(net::EventLoop* loop)>;

  // `time` and `metrics` (may be null in tests) outlive the services.
  static StatusOr<std::shared_ptr<AbuseServices>> Create(const config::AbuseConfig& config, const TimeSource* time,
                                                         stats::Metrics* metrics);
  // Replaces the memory store by a fleet store made per loop (store: redis).
  void SetStoreFactory(StoreFactory factory) { factory_ = std::move(factory); }

  const ratelimit::Fingerprinter& fingerprints() const { return *fingerprints_; }
  ratelimit::ConnectionLimits& connections() { return connections_; }
  // The store a loop uses: the shared MemoryStore (through a non-owning handle), or a new fleet
  // store on `loop` (owned by the caller, destroyed on that loop's thread).
  StatusOr<ratelimit::StorePtr> StoreFor(net::EventLoop* loop);
  // The in-process store, null with a fleet store.
  ratelimit::MemoryStore* memory_store() { return factory_ ? nullptr : memory_.get(); }
  // Copies the blocked-key counts into the metrics (for the collect hook; memory store only, a
  // fleet store's mirror publishes its own).
  void PublishMetrics(stats::Metrics& metrics) const;

 private:
  AbuseServices(const config::AbuseConfig& config, const TimeSource* time);

  std::unique_ptr<ratelimit::Fingerprinter> fingerprints_;
  ratelimit::ConnectionLimits connections_;
  std::unique_ptr<ratelimit::MemoryStore> memory_;
  StoreFactory factory_;
};

}  // namespace imapgate::abuse
