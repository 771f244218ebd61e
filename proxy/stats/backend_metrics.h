// BackendRelaySeries: issue E's backend and relay families — connect and login latency per
// backend, backends configured and usable per shard, and relay bytes counted as they flow.
// Private to stats/ (PrometheusMetrics owns one and forwards the Metrics calls).
//
// Series are created by AddBackend/AddShard (under PrometheusMetrics' add lock, when
// BackendIndex/ShardIndex first see a name), so every configured backend and shard shows at 0
// from start-up. The per-event calls find their series by index through an atomic pointer and
// never allocate or lock a family: a histogram observation takes that series' own short mutex
// (prometheus-cpp 1.0); a relay byte add is one relaxed atomic fetch_add on a plain counter,
// moved into the Prometheus counter by PublishRelayBytes() at the start of each scrape.
// Thread-safe: any worker may call the per-event methods concurrently.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace imapgate::stats::internal {

class BackendRelaySeries {
 public:
  // At most this many backends and shards (the same bound as Metrics::kMaxBackends).
  static constexpr int kMaxEntries = 1024;

  // Registers the families on `registry` (which must outlive this object). May throw
  // (std::bad_alloc); the caller (PrometheusMetrics::Build) catches.
  explicit BackendRelaySeries(prometheus::Registry& registry);
  ~BackendRelaySeries();

  // Creates backend `index`'s (shard `index`'s) series at 0, labelled `name`. Called once per
  // index, in order, under the owner's add lock; an index past kMaxEntries is ignored. May throw.
  void AddBackend(int index, const std::string& name);
  void AddShard(int index, const std::string& name);

  // imapgate_backend_connect_duration_seconds{backend}; an unknown index is ignored.
  void Connected(int backend, double seconds);
  // imapgate_backend_login_duration_seconds{backend}; an unknown index is ignored.
  void LoggedIn(int backend, double seconds);
  // imapgate_shard_backends{shard} / imapgate_shard_backends_up{shard}: the listed shards get
  // their counts, every other known shard reads 0 (a shard a reload removed has no backends).
  struct ShardCount {
    int shard = -1;
    int64_t configured = 0;
    int64_t up = 0;
  };
  void SetShards(std::span<const ShardCount> shards);
  // Adds `bytes` to the pending relay counter of one direction: one relaxed fetch_add.
  void RelayBytes(bool backend_to_client, uint64_t bytes) {
    (backend_to_client ? pending_b2c_ : pending_c2b_).value.fetch_add(bytes, std::memory_order_relaxed);
  }
  // Moves the pending relay bytes into imapgate_relay_bytes_total (an exchange per direction:
  // concurrent adds are never lost, only counted in the next scrape). From Serialize().
  void PublishRelayBytes();
  // The existing end-of-session path (Metrics::RelayBytes) adds here too.

 private:
  struct Backend {
    prometheus::Histogram* connect = nullptr;
    prometheus::Histogram* login = nullptr;
  };
  struct Shard {
    prometheus::Gauge* configured = nullptr;
    prometheus::Gauge* up = nullptr;
  };
  // One cache line each, so the two directions' adds do not contend.
  struct alignas(64) Pending {
    std::atomic<uint64_t> value{0};
  };

  prometheus::Family<prometheus::Histogram>* connect_family_ = nullptr;
  prometheus::Family<prometheus::Histogram>* login_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* shard_backends_family_ = nullptr;
  prometheus::Family<prometheus::Gauge>* shard_up_family_ = nullptr;
  std::array<std::atomic<const Backend*>, kMaxEntries> backends_{};
  std::array<std::atomic<const Shard*>, kMaxEntries> shards_{};
  std::atomic<int> shard_count_{0};
  prometheus::Counter* c2b_ = nullptr;
  prometheus::Counter* b2c_ = nullptr;
  Pending pending_c2b_;
  Pending pending_b2c_;
};

}  // namespace imapgate::stats::internal
