// Tests for issue E's session, TLS and process series (stats/session_tls_metrics.*, through
// stats::Metrics): every series exists at 0 from start-up for every listener, each call moves its
// series and only its series, and a label value outside its fixed set is dropped.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "stats/metrics.h"

namespace imapgate::stats {
namespace {

using Labels = std::map<std::string, std::string>;

// The value of series `name{labels}` in a text exposition (label values here hold no quotes or
// backslashes), or -1 when it is absent.
double Find(const std::string& text, const std::string& name, const Labels& labels) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string series = line.substr(0, brace == std::string::npos ? space : brace);
    if (series != name) continue;
    Labels got;
    if (brace != std::string::npos) {
      const std::string body = line.substr(brace + 1, line.rfind('}') - brace - 1);
      size_t at = 0;
      while (at < body.size()) {
        const size_t eq = body.find("=\"", at);
        const size_t close = body.find('"', eq + 2);
        got[body.substr(at, eq - at)] = body.substr(eq + 2, close - eq - 2);
        at = close + 2;  // past `",`
      }
    }
    if (got == labels) return std::stod(line.substr(space + 1));
  }
  return -1;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

class SessionTlsMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = Metrics::Create({"imap", "imaps"}, "dovecot", "1.2.3");
    ASSERT_TRUE(m.ok()) << m.status().message();
    metrics_ = std::move(*m);
  }
  double Value(const std::string& name, const Labels& labels) {
    const double v = Find(metrics_->Serialize(), name, labels);
    EXPECT_GE(v, 0) << "no series " << name;
    return v;
  }
  static Metrics::TlsHandshakeEvent Ok(std::string_view version, bool resumed = false, bool starttls = false) {
    Metrics::TlsHandshakeEvent e;
    e.ok = true;
    e.version = version;
    e.resumed = resumed;
    e.starttls = starttls;
    return e;
  }
  static Metrics::TlsHandshakeEvent Failed(std::string_view reason) {
    Metrics::TlsHandshakeEvent e;
    e.failure = reason;
    return e;
  }
  MetricsPtr metrics_;
};

TEST_F(SessionTlsMetricsTest, EverySeriesExistsAtZeroFromStartUpForEveryListener) {
  for (const char* l : {"imap", "imaps"}) {
    for (std::string_view v : Metrics::kTlsVersions) {
      EXPECT_EQ(Value("imapgate_tls_handshakes_total", {{"listener", l}, {"version", std::string(v)}, {"result", "ok"}}),
                0);
    }
    EXPECT_EQ(Value("imapgate_tls_handshakes_total", {{"listener", l}, {"version", "unknown"}, {"result", "failed"}}),
              0);
    for (std::string_view r : Metrics::kTlsFailureReasons) {
      EXPECT_EQ(Value("imapgate_tls_handshake_failures_total", {{"listener", l}, {"reason", std::string(r)}}), 0);
    }
    for (std::string_view r : Metrics::kSessionEndReasons) {
      EXPECT_EQ(Value("imapgate_sessions_ended_total", {{"listener", l}, {"reason", std::string(r)}}), 0);
    }
    EXPECT_EQ(Value("imapgate_tls_resumed_handshakes_total", {{"listener", l}}), 0);
    EXPECT_EQ(Value("imapgate_starttls_upgrades_total", {{"listener", l}}), 0);
    EXPECT_EQ(Value("imapgate_tls_certificate_not_after_seconds", {{"listener", l}}), 0);
  }
  EXPECT_EQ(Value("imapgate_start_time_seconds", {}), 0);
  EXPECT_EQ(Value("imapgate_sessions_limit", {}), 0);
  EXPECT_EQ(Value("imapgate_config_last_reload_successful", {}), 0);
  // No failed series with a known version, no ok series with "unknown": three per listener.
  const std::string text = metrics_->Serialize();
  EXPECT_LT(Find(text, "imapgate_tls_handshakes_total", {{"listener", "imap"}, {"version", "tls1_3"}, {"result", "failed"}}), 0);
  EXPECT_LT(Find(text, "imapgate_tls_handshakes_total", {{"listener", "imap"}, {"version", "unknown"}, {"result", "ok"}}), 0);
}

TEST_F(SessionTlsMetricsTest, HandshakesCountByVersionAndFailuresByReason) {
  metrics_->TlsHandshake(1, Ok("tls1_3"));
  metrics_->TlsHandshake(1, Ok("tls1_3"));
  metrics_->TlsHandshake(1, Ok("tls1_2"));
  metrics_->TlsHandshake(1, Failed("protocol_version"));
  metrics_->TlsHandshake(1, Failed("no_shared_cipher"));
  metrics_->TlsHandshake(1, Failed("no_shared_cipher"));
  metrics_->TlsHandshake(1, Failed("timeout"));
  const Labels imaps = {{"listener", "imaps"}};
  auto handshakes = [&](const char* version, const char* result) {
    return Value("imapgate_tls_handshakes_total", {{"listener", "imaps"}, {"version", version}, {"result", result}});
  };
  auto failures = [&](const char* listener, const char* reason) {
    return Value("imapgate_tls_handshake_failures_total", {{"listener", listener}, {"reason", reason}});
  };
  EXPECT_EQ(handshakes("tls1_3", "ok"), 2);
  EXPECT_EQ(handshakes("tls1_2", "ok"), 1);
  EXPECT_EQ(handshakes("unknown", "failed"), 4);
  EXPECT_EQ(failures("imaps", "protocol_version"), 1);
  EXPECT_EQ(failures("imaps", "no_shared_cipher"), 2);
  EXPECT_EQ(failures("imaps", "timeout"), 1);
  EXPECT_EQ(failures("imaps", "alpn"), 0);
  EXPECT_EQ(failures("imap", "no_shared_cipher"), 0);  // the other listener is untouched
  EXPECT_EQ(Value("imapgate_tls_resumed_handshakes_total", imaps), 0);
  EXPECT_EQ(Value("imapgate_starttls_upgrades_total", imaps), 0);
}

TEST_F(SessionTlsMetricsTest, ResumedAndStartTlsCountOnlySuccessfulHandshakes) {
  metrics_->TlsHandshake(0, Ok("tls1_3", /*resumed=*/true, /*starttls=*/true));
  metrics_->TlsHandshake(0, Ok("tls1_3", /*resumed=*/false, /*starttls=*/true));
  metrics_->TlsHandshake(0, Ok("tls1_2", /*resumed=*/true, /*starttls=*/false));
  Metrics::TlsHandshakeEvent failed = Failed("closed");
  failed.resumed = true;  // meaningless on a failure: not counted
  failed.starttls = true;
  metrics_->TlsHandshake(0, failed);
  EXPECT_EQ(Value("imapgate_tls_resumed_handshakes_total", {{"listener", "imap"}}), 2);
  EXPECT_EQ(Value("imapgate_starttls_upgrades_total", {{"listener", "imap"}}), 2);
  EXPECT_EQ(Value("imapgate_tls_handshake_failures_total", {{"listener", "imap"}, {"reason", "closed"}}), 1);
}

TEST_F(SessionTlsMetricsTest, UnknownLabelValuesAreDroppedWhole) {
  const std::string before = metrics_->Serialize();
  metrics_->TlsHandshake(0, Ok("tls1_1"));
  metrics_->TlsHandshake(0, Ok("unknown"));
  metrics_->TlsHandshake(0, Ok("", /*resumed=*/true, /*starttls=*/true));
  metrics_->TlsHandshake(0, Failed("cosmic_rays"));
  metrics_->TlsHandshake(0, Failed(""));
  metrics_->SessionEnded(0, "nonsense");
  metrics_->SessionEnded(0, "");
  metrics_->SessionEnded(0, "rejected");  // a reason, not an end name
  // The lines that changed, if any (the whole exposition would drown the failure).
  const std::vector<std::string> was = Lines(before);
  const std::vector<std::string> now = Lines(metrics_->Serialize());
  ASSERT_EQ(was.size(), now.size());
  std::vector<std::string> changed;
  for (size_t i = 0; i < was.size(); ++i) {
    if (was[i] != now[i]) changed.push_back(was[i] + "  ->  " + now[i]);
  }
  EXPECT_TRUE(changed.empty()) << changed.size() << " lines changed, first: "
                               << (changed.empty() ? "" : changed.front());
}

TEST_F(SessionTlsMetricsTest, EveryEndNameMapsToAReasonOfTheFixedSet) {
  // The session_end result= values: frontend ends, relay ends, the session's own.
  const std::vector<std::string> ends = {
      "logout",       "client_closed", "tls_failed",     "preauth_timeout", "line_too_long",
      "literal_too_large", "protocol_error", "preauth_bytes", "bad_commands", "starttls_injection",
      "auth_attempts", "shutdown",     "refused",        "internal_error",  "closed",
      "client_error", "backend_closed", "backend_error", "idle_timeout",    "kicked",
      "proxy_refused"};
  const std::set<std::string_view> reasons(Metrics::kSessionEndReasons.begin(), Metrics::kSessionEndReasons.end());
  std::set<std::string_view> reached;
  for (const std::string& end : ends) {
    const std::string_view reason = Metrics::SessionEndReason(end);
    EXPECT_EQ(reasons.count(reason), 1u) << end << " -> '" << reason << "'";
    reached.insert(reason);
  }
  EXPECT_EQ(reached, reasons);  // every reason is some end's
  EXPECT_EQ(Metrics::SessionEndReason("line_too_long"), "rejected");
  EXPECT_EQ(Metrics::SessionEndReason("closed"), "client_closed");
  EXPECT_EQ(Metrics::SessionEndReason("proxy_refused"), "refused");
  EXPECT_EQ(Metrics::SessionEndReason("internal_error"), "error");
  EXPECT_EQ(Metrics::SessionEndReason("no-such-end"), "");
}

TEST_F(SessionTlsMetricsTest, SessionsEndedCountPerListenerAndReason) {
  metrics_->SessionEnded(1, "logout");
  metrics_->SessionEnded(1, "logout");
  metrics_->SessionEnded(1, "bad_commands");
  metrics_->SessionEnded(1, "literal_too_large");
  metrics_->SessionEnded(0, "idle_timeout");
  auto ended = [&](const char* listener, const char* reason) {
    return Value("imapgate_sessions_ended_total", {{"listener", listener}, {"reason", reason}});
  };
  EXPECT_EQ(ended("imaps", "logout"), 2);
  EXPECT_EQ(ended("imaps", "rejected"), 2);
  EXPECT_EQ(ended("imaps", "idle_timeout"), 0);
  EXPECT_EQ(ended("imap", "idle_timeout"), 1);
  EXPECT_EQ(ended("imap", "logout"), 0);
}

TEST_F(SessionTlsMetricsTest, ProcessGaugesHoldWhatWasSet) {
  metrics_->SetStartTime(1764500000.5);
  metrics_->SetSessionsLimit(200000);
  metrics_->SetCertificateNotAfter(1, 2080000000);
  metrics_->SetCertificateNotAfter(1, 2090000000);  // a reload with a renewed certificate
  EXPECT_EQ(Value("imapgate_start_time_seconds", {}), 1764500000.5);
  EXPECT_EQ(Value("imapgate_sessions_limit", {}), 200000);
  EXPECT_EQ(Value("imapgate_tls_certificate_not_after_seconds", {{"listener", "imaps"}}), 2090000000);
  EXPECT_EQ(Value("imapgate_tls_certificate_not_after_seconds", {{"listener", "imap"}}), 0);
}

TEST_F(SessionTlsMetricsTest, LogWriteFailuresFollowTheLoggersCountAndNeverGoDown) {
  EXPECT_EQ(Value("imapgate_log_write_failures_total", {}), 0);
  metrics_->SetLogWriteFailures(3);
  metrics_->SetLogWriteFailures(3);  // the next scrape, nothing new: not added again
  EXPECT_EQ(Value("imapgate_log_write_failures_total", {}), 3);
  metrics_->SetLogWriteFailures(5);
  metrics_->SetLogWriteFailures(2);  // lower (never happens): ignored, a counter never goes down
  EXPECT_EQ(Value("imapgate_log_write_failures_total", {}), 5);
}

TEST_F(SessionTlsMetricsTest, LastReloadSuccessfulFollowsTheLastLoad) {
  metrics_->ConfigLoaded(1000);
  EXPECT_EQ(Value("imapgate_config_last_reload_successful", {}), 1);
  metrics_->ConfigReloaded(false, 0);
  EXPECT_EQ(Value("imapgate_config_last_reload_successful", {}), 0);
  metrics_->ConfigReloaded(false, 0);
  EXPECT_EQ(Value("imapgate_config_last_reload_successful", {}), 0);
  metrics_->ConfigReloaded(true, 2000);
  EXPECT_EQ(Value("imapgate_config_last_reload_successful", {}), 1);
}

TEST_F(SessionTlsMetricsTest, AListenerAddedAtRuntimeGetsItsSeriesAtZero) {
  auto index = metrics_->ListenerIndex("submission");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(Value("imapgate_sessions_ended_total", {{"listener", "submission"}, {"reason", "kicked"}}), 0);
  EXPECT_EQ(Value("imapgate_tls_handshake_failures_total", {{"listener", "submission"}, {"reason", "sni"}}), 0);
  metrics_->SessionEnded(*index, "kicked");
  metrics_->TlsHandshake(*index, Failed("sni"));
  EXPECT_EQ(Value("imapgate_sessions_ended_total", {{"listener", "submission"}, {"reason", "kicked"}}), 1);
  EXPECT_EQ(Value("imapgate_tls_handshake_failures_total", {{"listener", "submission"}, {"reason", "sni"}}), 1);
}

}  // namespace
}  // namespace imapgate::stats
