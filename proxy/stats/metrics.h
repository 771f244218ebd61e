// Metrics: every metric family imapgate exports; the only code that includes prometheus-cpp.
//
// Created once at start-up with the fixed label values (listener names, backend names); every
// labelled series is created then, so the per-event calls below never allocate and never take a
// family lock: counters and gauges are a lock-free atomic add; a histogram observation takes only
// that one series' short mutex (prometheus-cpp 1.0). All methods are thread-safe and may be
// called from any worker.
// Naming follows Prometheus conventions: prefix imapgate_, base units, counters end in _total;
// labels are low-cardinality (never a user or an IP).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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
  // listener_names: labels for index 0..n-1 of every per-listener call below; an index out of
  // range is ignored. Returns null only if prometheus-cpp throws (out of memory).
  static std::unique_ptr<Metrics> Create(const std::vector<std::string>& listener_names,
                                         const std::string& backend_name,
                                         const std::string& version);
  virtual ~Metrics() = default;

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
  // imapgate_tls_handshakes_total{listener,result="ok|failed"}
  virtual void TlsHandshake(int listener, bool ok) = 0;
  // imapgate_backend_errors_total{backend}
  virtual void BackendError() = 0;
  // imapgate_relay_bytes_total{direction="client_to_backend|backend_to_client"}; called when a
  // session ends (not per byte), with that session's totals.
  virtual void RelayBytes(uint64_t client_to_backend, uint64_t backend_to_client) = 0;

  // The whole registry in the Prometheus text exposition format (version 0.0.4), including
  // imapgate_build_info{version} 1 and imapgate_up 1.
  virtual std::string Serialize() const = 0;
};

using MetricsPtr = std::unique_ptr<Metrics>;

}  // namespace imapgate::stats
