// Metrics: every metric family imapgate exports; the only code that includes prometheus-cpp.
//
// Created once at start-up with the first label values (listener names, the backend name); more
// can be added at runtime (a reload adds listeners, backends, later shards) with ListenerIndex()
// and BackendIndex(), which take a lock: call them when building a configuration generation,
// never per event. The per-event calls below never allocate and never take a family lock:
// counters and gauges are a lock-free atomic add on a series found by index through an atomic
// pointer; a histogram observation takes only that one series' short mutex (prometheus-cpp 1.0).
// All methods are thread-safe and may be called from any worker.
// Naming follows Prometheus conventions: prefix imapgate_, base units, counters end in _total;
// labels are low-cardinality (never a user or an IP).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "health/health_state.h"

namespace imapgate::health {
class BackendHealthTable;
}

namespace imapgate::stats {

// Why a pre-auth session was cut off or a command refused; one label value each.
enum class RejectReason {
  kLineTooLong,
  kLiteralTooLarge,
  kPreauthBytes,
  kPreauthTimeout,
  kBadCommands,
  kStartTlsInjection,
  kTlsHandshake,
  kAuthAttempts,
  kCount  // not a reason
};
const char* RejectReasonName(RejectReason r);  // "line_too_long", ...

// The outcome of a login attempt; one label value each.
enum class LoginResult { kOk, kAuthFailed, kUnavailable, kCount };
const char* LoginResultName(LoginResult r);  // "ok", "auth_failed", "unavailable"

class Metrics {
 public:
  // At most this many distinct listener names, and backend names, over the process lifetime.
  static constexpr int kMaxListeners = 256;
  static constexpr int kMaxBackends = 1024;

  // listener_names: labels for index 0..n-1 of every per-listener call below (as if each had been
  // passed to ListenerIndex in order); backend_name is backend index 0. An index that was never
  // handed out is ignored. Fails (kInternal) if prometheus-cpp throws (out of memory), and
  // (kResourceExhausted) on more than kMaxListeners names.
  static StatusOr<std::unique_ptr<Metrics>> Create(const std::vector<std::string>& listener_names,
                                                   const std::string& backend_name,
                                                   const std::string& version);
  virtual ~Metrics() = default;

  // The index of listener `name` for the per-listener calls, creating its series the first time
  // (under a lock; the same name always gets the same index). kResourceExhausted past
  // kMaxListeners names. For start-up and reload, not per event.
  virtual StatusOr<int> ListenerIndex(const std::string& name) = 0;
  // The same for backends (imapgate_backend_errors_total{backend} and the backend health series
  // below); kMaxBackends names.
  virtual StatusOr<int> BackendIndex(const std::string& name) = 0;

  // imapgate_connections_accepted_total{listener}
  virtual void ConnectionAccepted(int listener) = 0;
  // imapgate_sessions_active{listener} (gauge): +1 at accept, -1 at close
  virtual void SessionOpened(int listener) = 0;
  // -1 on imapgate_sessions_active, and observes imapgate_session_duration_seconds{listener}
  virtual void SessionClosed(int listener, double duration_seconds) = 0;
  // imapgate_logins_total{listener,result}, and imapgate_login_duration_seconds{listener} on kOk
  virtual void LoginFinished(int listener, LoginResult result, double seconds) = 0;
  // imapgate_preauth_rejections_total{listener,reason}
  virtual void PreauthRejected(int listener, RejectReason reason) = 0;
  // imapgate_cleartext_logins_refused_total{listener}: LOGIN/AUTHENTICATE refused before TLS
  virtual void CleartextLoginRefused(int listener) = 0;
  // imapgate_proxy_headers_total{listener,result="ok|refused"}: PROXY protocol headers read, or
  // connections closed for a missing, malformed or untrusted one.
  virtual void ProxyHeader(int listener, bool ok) = 0;
  // imapgate_backend_errors_total{backend}: a failure talking to that backend during a login.
  virtual void BackendError(int backend) = 0;
  // imapgate_backend_up{backend} and imapgate_backend_draining{backend} (gauges, 0 or 1: up/down
  // and draining are orthogonal) and imapgate_backend_sessions{backend} (gauge: sessions relayed
  // to it now). The health table is the source of truth: PublishBackendHealth copies it in,
  // typically from the collect hook. A backend never published reads 0 0 0.
  virtual void SetBackendHealth(int backend, bool up, bool draining, int64_t active_sessions) = 0;
  // imapgate_health_checks_total{backend,result}: one active health check ended with `outcome`
  // (result = health::CheckOutcomeName).
  virtual void HealthCheckFinished(int backend, health::CheckOutcome outcome) = 0;

  // --- Sessions, TLS and process (issue E). ---
  // Label values are fixed sets (see docs/METRICS.md); an event naming a value outside its set is
  // dropped whole, so a scrape never grows. Per-listener series exist from ListenerIndex() on.
  static constexpr std::array<std::string_view, 2> kTlsVersions = {"tls1_2", "tls1_3"};
  static constexpr std::array<std::string_view, 7> kTlsFailureReasons = {
      "no_shared_cipher", "protocol_version", "alpn", "sni", "timeout", "closed", "other"};
  static constexpr std::array<std::string_view, 13> kSessionEndReasons = {
      "logout",          "client_closed", "client_error", "backend_closed", "backend_error",
      "idle_timeout",    "preauth_timeout", "tls_failed", "rejected",       "refused",
      "kicked",          "shutdown",      "error"};
  // TlsHandshakeEvent: one client TLS handshake's outcome, as the frontend saw it. The views
  // only need to live for the call.
  struct TlsHandshakeEvent {
    bool ok = false;
    std::string_view version;  // ok: "tls1_2" or "tls1_3" (a failed one is counted as "unknown")
    std::string_view failure;  // !ok: one of kTlsFailureReasons
    bool resumed = false;      // ok: an abbreviated handshake (session ticket)
    bool starttls = false;     // ok: the handshake of a STARTTLS upgrade
  };
  // imapgate_tls_handshakes_total{listener,version,result}; when !ok also
  // imapgate_tls_handshake_failures_total{listener,reason}; when ok and resumed
  // imapgate_tls_resumed_handshakes_total{listener}; when ok and starttls
  // imapgate_starttls_upgrades_total{listener}.
  virtual void TlsHandshake(int listener, const TlsHandshakeEvent& event) = 0;
  // The imapgate_sessions_ended_total reason of a session's end as the session_end log line names
  // it (result=: a frontend end such as "line_too_long", a relay end such as "closed", or
  // "proxy_refused", "internal_error"); "" for a name it does not know. Pure.
  static std::string_view SessionEndReason(std::string_view end);
  // imapgate_sessions_ended_total{listener,reason=SessionEndReason(end)}; an unknown end is dropped.
  virtual void SessionEnded(int listener, std::string_view end) = 0;
  // imapgate_start_time_seconds: when the process started (Unix seconds); once, at start-up.
  virtual void SetStartTime(double unix_seconds) = 0;
  // imapgate_tls_certificate_not_after_seconds{listener}: the notAfter of the listener's leaf
  // certificate (Unix seconds); at start-up and after each successful reload.
  virtual void SetCertificateNotAfter(int listener, double unix_seconds) = 0;
  // imapgate_sessions_limit: the most client sessions this instance holds at once.
  virtual void SetSessionsLimit(int64_t sessions) = 0;
  // imapgate_log_write_failures_total: log lines that could not be written (disk full, a closed
  // pipe). `total` is the logger's own running count (LogWriteFailures()); the counter follows
  // it (a lower value is ignored). From the collect hook.
  virtual void SetLogWriteFailures(uint64_t total) = 0;
  // imapgate_config_last_reload_successful (no method of its own): ConfigLoaded and
  // ConfigReloaded(true) set it to 1, ConfigReloaded(false) to 0.

  // Routing (issue D). The label index of shard `name` (created on first use; a lock: call it
  // when building a generation, not per login).
  virtual StatusOr<int> ShardIndex(const std::string& name) = 0;
  // imapgate_shard_logins_total{shard,result}: a login routed to the shard ended with result;
  // imapgate_failovers_total{shard}: `failovers` backends of it were tried and found unusable.
  virtual void ShardLogin(int shard, LoginResult result, int failovers) = 0;
  // imapgate_route_decisions_total{source="auth|override|domain|hash"}.
  virtual void RouteDecision(std::string_view source) = 0;

  // --- Configuration reloads (issue D). ---
  // imapgate_config_reloads_total{result="ok|failed"} +1; on ok also sets
  // imapgate_config_last_reload_timestamp_seconds to unix_seconds (wall clock).
  virtual void ConfigReloaded(bool ok, double unix_seconds) = 0;
  // imapgate_config_last_reload_timestamp_seconds at start-up, when the first configuration is
  // loaded (the series exists from Create() on, at 0 until this is called).
  virtual void ConfigLoaded(double unix_seconds) = 0;

  // --- Authentication and 2FA (issue B). ---
  static constexpr int kMaxAuthSources = 64;
  // The index of auth source `name` (a config name) for AuthAttempt, creating its series the
  // first time (every mechanism × result, at zero). For start-up and reload, not per event.
  virtual StatusOr<int> AuthSourceIndex(const std::string& name) = 0;
  // imapgate_auth_attempts_total{source,mechanism,result} and
  // imapgate_auth_duration_seconds{source}: one source's answer for one login. mechanism: the
  // login's ("LOGIN", "PLAIN", "SASL-LOGIN", "XOAUTH2", "OAUTHBEARER"; labelled in lower case);
  // result: "ok", "fail", "unavailable", "not_mine", "pass_through". Other values are dropped.
  virtual void AuthAttempt(int source, std::string_view mechanism, std::string_view result, double seconds) = 0;
  // imapgate_second_factor_total{kind,result}: kind "totp", "push", "app_password",
  // "remembered"; result "ok", "fail", "replayed", "denied", "timeout", "error".
  virtual void SecondFactor(std::string_view kind, std::string_view result) = 0;
  // imapgate_auth_hash_pool_rejected_total: checks refused because the hash pool's queue was full.
  virtual void HashPoolRejected() = 0;
  // imapgate_auth_hash_pool_queued: checks waiting for a hash thread (set from the collect hook).
  virtual void SetHashPoolQueued(int64_t queued) = 0;

  // --- Abuse defence (issue C). Label values outside the fixed sets are dropped. ---
  // imapgate_abuse_actions_total{action="tarpit|refuse|block",reason}: reason
  // address_blocked, subnet_blocked, user_under_attack, address_failures, global_surge, spraying,
  // subnet_failures, blocklist, policy_hook.
  virtual void AbuseAction(std::string_view action, std::string_view reason) = 0;
  // imapgate_connections_refused_total{reason}: blocked, blocklist, per_address, total,
  // accept_rate, per_user, per_user_address, store_failure.
  virtual void ConnectionRefused(std::string_view reason) = 0;
  // imapgate_abuse_store_duration_seconds{store} and imapgate_abuse_store_errors_total{store}
  // (store "memory" or "redis").
  virtual void AbuseStoreCall(std::string_view store, double seconds, bool ok) = 0;
  // imapgate_abuse_fail_open_total: a login let through because the store could not answer.
  virtual void AbuseFailOpen() = 0;
  // imapgate_abuse_blocked_keys{scope="address|subnet"} (set from the collect hook).
  virtual void SetAbuseBlocked(std::string_view scope, int64_t count) = 0;
  // imapgate_abuse_policy_hook_total{result="allow|reject|delay|failed"}: the hook's answers.
  virtual void AbusePolicyHook(std::string_view result) = 0;

  // --- Backends and relay (issue E). ---
  // imapgate_backend_connect_duration_seconds{backend}: one successful connect to backend
  // `backend` (a BackendIndex) for a login, from the connect() call until the backend is ready for
  // a command (TCP, TLS, greeting, STARTTLS). An unknown index is ignored.
  virtual void BackendConnected(int backend, double seconds) = 0;
  // imapgate_backend_login_duration_seconds{backend}: one successful backend login, from the start
  // of the backend connection (or of the LOGIN on a warm connection) to the backend's tagged OK.
  virtual void BackendLoggedIn(int backend, double seconds) = 0;
  // One shard's backends (shard: a ShardIndex): configured, and up and not draining.
  struct ShardBackendCount {
    int shard = -1;
    int64_t configured = 0;
    int64_t up = 0;
  };
  // imapgate_shard_backends{shard} and imapgate_shard_backends_up{shard} (gauges): the listed
  // shards get their counts, every other shard ever named reads 0 (a reload removed it). For the
  // collect hook (a small allocation per call), not per event.
  virtual void SetShardBackends(const std::vector<ShardBackendCount>& shards) = 0;
  // imapgate_relay_bytes_total{direction}: `bytes` just relayed in one direction, called by the
  // relay on every read it forwards. One relaxed atomic add, no lock, no allocation; the sum
  // reaches the counter at the start of the next Serialize().
  virtual void RelayBytesFlowed(bool backend_to_client, uint64_t bytes) = 0;

  // The whole registry in the Prometheus text exposition format (version 0.0.4), including
  // imapgate_build_info{version} 1 and imapgate_up 1.
  virtual std::string Serialize() const = 0;
  // Runs `hook` at the start of every Serialize(), on the serializing thread, so values kept
  // elsewhere (backend health) are fresh in each scrape. Replaces an earlier hook; {} removes it.
  virtual void SetCollectHook(std::function<void()> hook) = 0;
};

// Copies every backend of `table` into the backend health gauges (by name, through
// BackendIndex: a lock and a map lookup per backend, so for a scrape, not per event). Made to be
// called from the collect hook: metrics->SetCollectHook([&] { PublishBackendHealth(table, *metrics); }).
void PublishBackendHealth(const health::BackendHealthTable& table, Metrics& metrics);

using MetricsPtr = std::unique_ptr<Metrics>;

}  // namespace imapgate::stats
