// SessionTlsSeries: issue E's session, TLS and process families (sessions ended by reason, TLS
// handshakes by version and result, handshake failures by reason, resumed handshakes, STARTTLS
// upgrades, certificate notAfter; start time, sessions limit, last reload successful). Every
// series is created with fixed label values (per listener when the listener is added), so a
// scrape never grows and never names an address or a user. Private to stats/: PrometheusMetrics
// owns one and forwards the Metrics calls.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "stats/metrics.h"

namespace imapgate::stats::internal {

// ListenerSessionTls: one listener's series of these families. The pointers are owned by their
// families (the registry); the struct is owned by the listener's ListenerSeries.
struct ListenerSessionTls {
  std::array<prometheus::Counter*, Metrics::kTlsVersions.size()> handshakes_ok{};
  prometheus::Counter* handshakes_failed = nullptr;  // version="unknown"
  std::array<prometheus::Counter*, Metrics::kTlsFailureReasons.size()> failures{};
  prometheus::Counter* resumed = nullptr;
  prometheus::Counter* starttls = nullptr;
  std::array<prometheus::Counter*, Metrics::kSessionEndReasons.size()> ended{};
  prometheus::Gauge* certificate_not_after = nullptr;
};

class SessionTlsSeries {
 public:
  // Registers the families in `registry` and creates the global series (at 0; last reload
  // successful at 0 until ConfigLoaded). May throw (std::bad_alloc, std::invalid_argument);
  // the caller catches. Single-threaded (start-up).
  explicit SessionTlsSeries(prometheus::Registry& registry);

  // Creates listener `name`'s series, every one at 0. May throw; the caller holds its add lock.
  std::unique_ptr<ListenerSessionTls> AddListener(const std::string& name);

  // The per-event calls: lock-free, never allocate; thread-safe.
  static void Handshake(const ListenerSessionTls& l, const Metrics::TlsHandshakeEvent& event);
  static void Ended(const ListenerSessionTls& l, std::string_view end);
  static void SetNotAfter(const ListenerSessionTls& l, double unix_seconds);
  void SetStartTime(double unix_seconds);
  void SetSessionsLimit(int64_t sessions);
  void SetLastReloadSuccessful(bool ok);
  // Raises imapgate_log_write_failures_total to `total` (never lowers it). Thread-safe.
  void SetLogWriteFailures(uint64_t total);

 private:
  prometheus::Family<prometheus::Counter>* handshakes_ = nullptr;
  prometheus::Family<prometheus::Counter>* failures_ = nullptr;
  prometheus::Family<prometheus::Counter>* resumed_ = nullptr;
  prometheus::Family<prometheus::Counter>* starttls_ = nullptr;
  prometheus::Family<prometheus::Counter>* ended_ = nullptr;
  prometheus::Family<prometheus::Gauge>* not_after_ = nullptr;
  prometheus::Gauge* start_time_ = nullptr;
  prometheus::Gauge* sessions_limit_ = nullptr;
  prometheus::Gauge* last_reload_successful_ = nullptr;
  prometheus::Counter* log_write_failures_ = nullptr;
  std::atomic<uint64_t> log_write_failures_seen_{0};
};

}  // namespace imapgate::stats::internal
