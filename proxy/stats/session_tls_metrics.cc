#include "stats/session_tls_metrics.h"

#include <utility>

namespace imapgate::stats {
namespace {

template <size_t N>
int Find(const std::array<std::string_view, N>& values, std::string_view v) {
  for (size_t i = 0; i < N; ++i) {
    if (values[i] == v) return static_cast<int>(i);
  }
  return -1;
}

// The session_end log's result= values (frontend ends, relay ends, the session's own) and the
// sessions_ended reason each is counted under. Pre-login refusals by a bound share "rejected"
// (imapgate_preauth_rejections_total has the detail).
constexpr std::pair<std::string_view, std::string_view> kEndToReason[] = {
    // Frontend ends (frontend/frontend_end.cc).
    {"logout", "logout"},
    {"client_closed", "client_closed"},
    {"tls_failed", "tls_failed"},
    {"preauth_timeout", "preauth_timeout"},
    {"line_too_long", "rejected"},
    {"literal_too_large", "rejected"},
    {"protocol_error", "rejected"},
    {"preauth_bytes", "rejected"},
    {"bad_commands", "rejected"},
    {"starttls_injection", "rejected"},
    {"auth_attempts", "rejected"},
    {"shutdown", "shutdown"},
    {"refused", "refused"},
    {"internal_error", "error"},
    // Relay ends (relay/relay.cc RelayEndName); "logout" and "shutdown" as above.
    {"closed", "client_closed"},
    {"client_error", "client_error"},
    {"backend_closed", "backend_closed"},
    {"backend_error", "backend_error"},
    {"idle_timeout", "idle_timeout"},
    {"kicked", "kicked"},
    // The session's own (session/session.cc).
    {"proxy_refused", "refused"},
};

}  // namespace

std::string_view Metrics::SessionEndReason(std::string_view end) {
  for (const auto& [name, reason] : kEndToReason) {
    if (name == end) return reason;
  }
  return {};
}

namespace internal {

SessionTlsSeries::SessionTlsSeries(prometheus::Registry& r) {
  handshakes_ = &prometheus::BuildCounter()
                     .Name("imapgate_tls_handshakes_total")
                     .Help("Client TLS handshakes per listener, TLS version (unknown for a failed "
                           "one) and result (ok, failed).")
                     .Register(r);
  failures_ = &prometheus::BuildCounter()
                   .Name("imapgate_tls_handshake_failures_total")
                   .Help("Failed client TLS handshakes per listener and reason.")
                   .Register(r);
  resumed_ = &prometheus::BuildCounter()
                  .Name("imapgate_tls_resumed_handshakes_total")
                  .Help("Client TLS handshakes that resumed an earlier session (ticket), per listener.")
                  .Register(r);
  starttls_ = &prometheus::BuildCounter()
                   .Name("imapgate_starttls_upgrades_total")
                   .Help("STARTTLS upgrades completed (handshake ok), per listener.")
                   .Register(r);
  ended_ = &prometheus::BuildCounter()
                .Name("imapgate_sessions_ended_total")
                .Help("Client sessions ended, per listener and reason.")
                .Register(r);
  not_after_ = &prometheus::BuildGauge()
                    .Name("imapgate_tls_certificate_not_after_seconds")
                    .Help("notAfter of the listener's certificate (leaf), in seconds since the Unix epoch.")
                    .Register(r);
  start_time_ = &prometheus::BuildGauge()
                     .Name("imapgate_start_time_seconds")
                     .Help("When the process started, in seconds since the Unix epoch.")
                     .Register(r)
                     .Add({});
  sessions_limit_ = &prometheus::BuildGauge()
                         .Name("imapgate_sessions_limit")
                         .Help("The most client sessions this instance holds at once.")
                         .Register(r)
                         .Add({});
  last_reload_successful_ = &prometheus::BuildGauge()
                                 .Name("imapgate_config_last_reload_successful")
                                 .Help("1 if the last configuration load (start-up or reload) succeeded, "
                                       "0 after a failed reload until one succeeds.")
                                 .Register(r)
                                 .Add({});
  log_write_failures_ = &prometheus::BuildCounter()
                             .Name("imapgate_log_write_failures_total")
                             .Help("Log lines that could not be written (disk full, a closed pipe).")
                             .Register(r)
                             .Add({});
}

std::unique_ptr<ListenerSessionTls> SessionTlsSeries::AddListener(const std::string& name) {
  auto l = std::make_unique<ListenerSessionTls>();
  for (size_t i = 0; i < Metrics::kTlsVersions.size(); ++i) {
    l->handshakes_ok[i] = &handshakes_->Add(
        {{"listener", name}, {"version", std::string(Metrics::kTlsVersions[i])}, {"result", "ok"}});
  }
  l->handshakes_failed = &handshakes_->Add({{"listener", name}, {"version", "unknown"}, {"result", "failed"}});
  for (size_t i = 0; i < Metrics::kTlsFailureReasons.size(); ++i) {
    l->failures[i] = &failures_->Add({{"listener", name}, {"reason", std::string(Metrics::kTlsFailureReasons[i])}});
  }
  l->resumed = &resumed_->Add({{"listener", name}});
  l->starttls = &starttls_->Add({{"listener", name}});
  for (size_t i = 0; i < Metrics::kSessionEndReasons.size(); ++i) {
    l->ended[i] = &ended_->Add({{"listener", name}, {"reason", std::string(Metrics::kSessionEndReasons[i])}});
  }
  l->certificate_not_after = &not_after_->Add({{"listener", name}});
  return l;
}

void SessionTlsSeries::Handshake(const ListenerSessionTls& l, const Metrics::TlsHandshakeEvent& e) {
  if (e.ok) {
    const int v = Find(Metrics::kTlsVersions, e.version);
    if (v < 0) return;  // not a version we serve: dropped
    l.handshakes_ok[static_cast<size_t>(v)]->Increment();
    if (e.resumed) l.resumed->Increment();
    if (e.starttls) l.starttls->Increment();
    return;
  }
  const int r = Find(Metrics::kTlsFailureReasons, e.failure);
  if (r < 0) return;  // not a known reason: dropped (both counters, so they stay equal)
  l.handshakes_failed->Increment();
  l.failures[static_cast<size_t>(r)]->Increment();
}

void SessionTlsSeries::Ended(const ListenerSessionTls& l, std::string_view end) {
  const int r = Find(Metrics::kSessionEndReasons, Metrics::SessionEndReason(end));
  if (r >= 0) l.ended[static_cast<size_t>(r)]->Increment();
}

void SessionTlsSeries::SetNotAfter(const ListenerSessionTls& l, double unix_seconds) {
  l.certificate_not_after->Set(unix_seconds);
}

void SessionTlsSeries::SetStartTime(double unix_seconds) { start_time_->Set(unix_seconds); }

void SessionTlsSeries::SetSessionsLimit(int64_t sessions) { sessions_limit_->Set(static_cast<double>(sessions)); }

void SessionTlsSeries::SetLastReloadSuccessful(bool ok) { last_reload_successful_->Set(ok ? 1 : 0); }

void SessionTlsSeries::SetLogWriteFailures(uint64_t total) {
  uint64_t seen = log_write_failures_seen_.load(std::memory_order_relaxed);
  while (total > seen) {
    if (log_write_failures_seen_.compare_exchange_weak(seen, total, std::memory_order_relaxed)) {
      log_write_failures_->Increment(static_cast<double>(total - seen));
      return;
    }
  }
}

}  // namespace internal
}  // namespace imapgate::stats
