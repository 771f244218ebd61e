// Tests for stats::Metrics: each method moves its series and only its series, and the text
// exposition parses, carries build_info and never a high-cardinality label.

#include "stats/metrics.h"

#include "health/backend_health_table.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace imapgate::stats {
namespace {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

// A strict-enough parser of the text exposition format (0.0.4) as prometheus-cpp writes it.
// Fails the test on any line it does not understand.
struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;  // family name -> counter|gauge|histogram|...
};

bool IsNameChar(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

std::optional<Sample> ParseSample(const std::string& line) {
  Sample s;
  size_t i = 0;
  while (i < line.size() && IsNameChar(line[i], i == 0)) ++i;
  if (i == 0) return std::nullopt;
  s.name = line.substr(0, i);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      size_t start = i;
      while (i < line.size() && IsNameChar(line[i], i == start)) ++i;
      std::string key = line.substr(start, i - start);
      if (key.empty() || line.compare(i, 2, "=\"") != 0) return std::nullopt;
      i += 2;
      std::string value;
      while (i < line.size() && line[i] != '"') {
        if (line[i] == '\\' && i + 1 < line.size()) ++i;
        value += line[i++];
      }
      if (i >= line.size()) return std::nullopt;
      ++i;  // closing quote
      if (!s.labels.emplace(key, value).second) return std::nullopt;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return std::nullopt;
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') return std::nullopt;
  const std::string number = line.substr(i + 1);
  char* end = nullptr;
  s.value = std::strtod(number.c_str(), &end);
  if (end == number.c_str() || *end != '\0') return std::nullopt;
  return s;
}

Exposition Parse(const std::string& text) {
  Exposition out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name, type;
      words >> name >> type;
      EXPECT_FALSE(name.empty() || type.empty()) << line;
      out.types[name] = type;
      continue;
    }
    std::optional<Sample> s = ParseSample(line);
    EXPECT_TRUE(s.has_value()) << "unparsable line: " << line;
    if (s) out.samples.push_back(*s);
  }
  return out;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = Metrics::Create({"imap", "imaps"}, "dovecot", "1.2.3");
    ASSERT_TRUE(m.ok()) << m.status().message();
    metrics_ = std::move(*m);
  }

  // The value of the one series named name with exactly labels; fails if absent.
  double Value(const std::string& name, const Labels& labels) {
    Exposition e = Parse(metrics_->Serialize());
    for (const Sample& s : e.samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    ADD_FAILURE() << "no series " << name;
    return -1;
  }

  MetricsPtr metrics_;
};

TEST_F(MetricsTest, ReasonAndResultNamesAreDistinctSnakeCase) {
  std::set<std::string> names;
  for (int i = 0; i < static_cast<int>(RejectReason::kCount); ++i) {
    names.insert(RejectReasonName(static_cast<RejectReason>(i)));
  }
  for (int i = 0; i < static_cast<int>(LoginResult::kCount); ++i) {
    names.insert(LoginResultName(static_cast<LoginResult>(i)));
  }
  EXPECT_EQ(names.size(),
            static_cast<size_t>(RejectReason::kCount) + static_cast<size_t>(LoginResult::kCount));
  EXPECT_EQ(names.count("unknown"), 0u);
  for (const std::string& n : names) {
    for (char c : n) EXPECT_TRUE(std::islower(static_cast<unsigned char>(c)) || c == '_') << n;
  }
  EXPECT_STREQ(RejectReasonName(RejectReason::kLineTooLong), "line_too_long");
  EXPECT_STREQ(RejectReasonName(RejectReason::kStartTlsInjection), "starttls_injection");
  EXPECT_STREQ(LoginResultName(LoginResult::kAuthFailed), "auth_failed");
}

TEST_F(MetricsTest, BuildInfoAndUp) {
  EXPECT_EQ(Value("imapgate_build_info", {{"version", "1.2.3"}}), 1);
  EXPECT_EQ(Value("imapgate_up", {}), 1);
}

TEST_F(MetricsTest, EverySeriesExistsAtZeroBeforeAnyEvent) {
  for (const char* l : {"imap", "imaps"}) {
    EXPECT_EQ(Value("imapgate_connections_accepted_total", {{"listener", l}}), 0);
    EXPECT_EQ(Value("imapgate_sessions_active", {{"listener", l}}), 0);
    EXPECT_EQ(Value("imapgate_session_duration_seconds_count", {{"listener", l}}), 0);
    EXPECT_EQ(Value("imapgate_login_duration_seconds_count", {{"listener", l}}), 0);
    for (int i = 0; i < static_cast<int>(LoginResult::kCount); ++i) {
      EXPECT_EQ(Value("imapgate_logins_total",
                      {{"listener", l}, {"result", LoginResultName(static_cast<LoginResult>(i))}}),
                0);
    }
    for (int i = 0; i < static_cast<int>(RejectReason::kCount); ++i) {
      EXPECT_EQ(
          Value("imapgate_preauth_rejections_total",
                {{"listener", l}, {"reason", RejectReasonName(static_cast<RejectReason>(i))}}),
          0);
    }
    EXPECT_EQ(Value("imapgate_tls_handshakes_total", {{"listener", l}, {"version", "tls1_3"}, {"result", "ok"}}), 0);
    EXPECT_EQ(Value("imapgate_tls_handshakes_total", {{"listener", l}, {"version", "unknown"}, {"result", "failed"}}),
              0);
  }
  EXPECT_EQ(Value("imapgate_backend_errors_total", {{"backend", "dovecot"}}), 0);
  EXPECT_EQ(Value("imapgate_relay_bytes_total", {{"direction", "client_to_backend"}}), 0);
  EXPECT_EQ(Value("imapgate_relay_bytes_total", {{"direction", "backend_to_client"}}), 0);
}

TEST_F(MetricsTest, ConnectionAcceptedCountsPerListener) {
  metrics_->ConnectionAccepted(1);
  metrics_->ConnectionAccepted(1);
  EXPECT_EQ(Value("imapgate_connections_accepted_total", {{"listener", "imap"}}), 0);
  EXPECT_EQ(Value("imapgate_connections_accepted_total", {{"listener", "imaps"}}), 2);
}

TEST_F(MetricsTest, SessionsActiveAndDuration) {
  metrics_->SessionOpened(0);
  metrics_->SessionOpened(0);
  metrics_->SessionClosed(0, 5.0);
  EXPECT_EQ(Value("imapgate_sessions_active", {{"listener", "imap"}}), 1);
  EXPECT_EQ(Value("imapgate_sessions_active", {{"listener", "imaps"}}), 0);
  EXPECT_EQ(Value("imapgate_session_duration_seconds_count", {{"listener", "imap"}}), 1);
  EXPECT_EQ(Value("imapgate_session_duration_seconds_sum", {{"listener", "imap"}}), 5.0);
  EXPECT_EQ(Value("imapgate_session_duration_seconds_bucket", {{"listener", "imap"}, {"le", "1"}}),
            0);
  EXPECT_EQ(Value("imapgate_session_duration_seconds_bucket", {{"listener", "imap"}, {"le", "10"}}),
            1);
  EXPECT_EQ(
      Value("imapgate_session_duration_seconds_bucket", {{"listener", "imap"}, {"le", "86400"}}),
      1);
  EXPECT_EQ(
      Value("imapgate_session_duration_seconds_bucket", {{"listener", "imap"}, {"le", "+Inf"}}), 1);
}

TEST_F(MetricsTest, LoginsCountEveryResultButTimeOnlySuccess) {
  metrics_->LoginFinished(1, LoginResult::kOk, 0.2);
  metrics_->LoginFinished(1, LoginResult::kAuthFailed, 3.0);
  metrics_->LoginFinished(1, LoginResult::kUnavailable, 9.0);
  metrics_->LoginFinished(1, LoginResult::kUnavailable, 9.0);
  const Labels imaps = {{"listener", "imaps"}};
  EXPECT_EQ(Value("imapgate_logins_total", {{"listener", "imaps"}, {"result", "ok"}}), 1);
  EXPECT_EQ(Value("imapgate_logins_total", {{"listener", "imaps"}, {"result", "auth_failed"}}), 1);
  EXPECT_EQ(Value("imapgate_logins_total", {{"listener", "imaps"}, {"result", "unavailable"}}), 2);
  EXPECT_EQ(Value("imapgate_logins_total", {{"listener", "imap"}, {"result", "ok"}}), 0);
  EXPECT_EQ(Value("imapgate_login_duration_seconds_count", imaps), 1);
  EXPECT_DOUBLE_EQ(Value("imapgate_login_duration_seconds_sum", imaps), 0.2);
  EXPECT_EQ(Value("imapgate_login_duration_seconds_bucket", {{"listener", "imaps"}, {"le", "0.1"}}),
            0);
  EXPECT_EQ(
      Value("imapgate_login_duration_seconds_bucket", {{"listener", "imaps"}, {"le", "0.25"}}), 1);
  EXPECT_EQ(Value("imapgate_login_duration_seconds_bucket", {{"listener", "imaps"}, {"le", "10"}}),
            1);
}

TEST_F(MetricsTest, PreauthRejectedCountsEachReasonSeparately) {
  for (int i = 0; i < static_cast<int>(RejectReason::kCount); ++i) {
    for (int n = 0; n <= i; ++n) metrics_->PreauthRejected(0, static_cast<RejectReason>(i));
  }
  for (int i = 0; i < static_cast<int>(RejectReason::kCount); ++i) {
    const char* reason = RejectReasonName(static_cast<RejectReason>(i));
    EXPECT_EQ(
        Value("imapgate_preauth_rejections_total", {{"listener", "imap"}, {"reason", reason}}),
        i + 1)
        << reason;
    EXPECT_EQ(
        Value("imapgate_preauth_rejections_total", {{"listener", "imaps"}, {"reason", reason}}), 0);
  }
}

TEST_F(MetricsTest, TlsHandshakeOkAndFailed) {
  Metrics::TlsHandshakeEvent ok;
  ok.ok = true;
  ok.version = "tls1_3";
  Metrics::TlsHandshakeEvent failed;
  failed.failure = "other";
  metrics_->TlsHandshake(1, ok);
  metrics_->TlsHandshake(1, failed);
  metrics_->TlsHandshake(1, failed);
  EXPECT_EQ(Value("imapgate_tls_handshakes_total", {{"listener", "imaps"}, {"version", "tls1_3"}, {"result", "ok"}}),
            1);
  EXPECT_EQ(
      Value("imapgate_tls_handshakes_total", {{"listener", "imaps"}, {"version", "unknown"}, {"result", "failed"}}),
      2);
  EXPECT_EQ(Value("imapgate_tls_handshakes_total", {{"listener", "imap"}, {"version", "tls1_3"}, {"result", "ok"}}),
            0);
}

TEST_F(MetricsTest, CleartextLoginsRefusedCountPerListener) {
  for (const char* l : {"imap", "imaps"}) {
    EXPECT_EQ(Value("imapgate_cleartext_logins_refused_total", {{"listener", l}}), 0);
  }
  metrics_->CleartextLoginRefused(0);
  metrics_->CleartextLoginRefused(0);
  metrics_->CleartextLoginRefused(-1);  // out of range: ignored
  EXPECT_EQ(Value("imapgate_cleartext_logins_refused_total", {{"listener", "imap"}}), 2);
  EXPECT_EQ(Value("imapgate_cleartext_logins_refused_total", {{"listener", "imaps"}}), 0);
}

TEST_F(MetricsTest, BackendErrorAndRelayBytes) {
  metrics_->BackendError(0);
  metrics_->RelayBytesFlowed(false, 100);
  metrics_->RelayBytesFlowed(true, 2000);
  metrics_->RelayBytesFlowed(false, 1);
  EXPECT_EQ(Value("imapgate_backend_errors_total", {{"backend", "dovecot"}}), 1);
  EXPECT_EQ(Value("imapgate_relay_bytes_total", {{"direction", "client_to_backend"}}), 101);
  EXPECT_EQ(Value("imapgate_relay_bytes_total", {{"direction", "backend_to_client"}}), 2000);
}

TEST_F(MetricsTest, OutOfRangeListenerIsIgnored) {
  const std::string before = metrics_->Serialize();
  for (int bad : {-1, 2, 1000}) {
    metrics_->ConnectionAccepted(bad);
    metrics_->SessionOpened(bad);
    metrics_->SessionClosed(bad, 1);
    metrics_->LoginFinished(bad, LoginResult::kOk, 1);
    metrics_->PreauthRejected(bad, RejectReason::kLineTooLong);
    Metrics::TlsHandshakeEvent ok;
    ok.ok = true;
    ok.version = "tls1_3";
    metrics_->TlsHandshake(bad, ok);
    metrics_->SessionEnded(bad, "logout");
    metrics_->SetCertificateNotAfter(bad, 5);
  }
  metrics_->LoginFinished(0, LoginResult::kCount, 1);
  metrics_->PreauthRejected(0, RejectReason::kCount);
  EXPECT_EQ(metrics_->Serialize(), before);
}

TEST_F(MetricsTest, ExpositionFollowsNamingAndCardinalityRules) {
  metrics_->SessionOpened(0);
  metrics_->LoginFinished(0, LoginResult::kOk, 0.01);
  Exposition e = Parse(metrics_->Serialize());
  ASSERT_FALSE(e.samples.empty());
  // Bounded enums and config names only ("shard" and "backend" are config names).
  const std::set<std::string> allowed_labels = {"listener",  "result",  "reason", "backend", "shard", "kind", "mechanism",
                                                "source",    "direction", "version", "le",  "action", "store", "scope"};
  for (const auto& [family, type] : e.types) {
    EXPECT_EQ(family.rfind("imapgate_", 0), 0u) << family;
    if (type == "counter") {
      EXPECT_TRUE(family.size() > 6 && family.substr(family.size() - 6) == "_total") << family;
    }
  }
  for (const Sample& s : e.samples) {
    EXPECT_EQ(s.name.rfind("imapgate_", 0), 0u) << s.name;
    bool typed = e.types.count(s.name) > 0;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (s.name.size() > sfx.size() && s.name.substr(s.name.size() - sfx.size()) == sfx) {
        typed = typed || e.types.count(s.name.substr(0, s.name.size() - sfx.size())) > 0;
      }
    }
    EXPECT_TRUE(typed) << "no # TYPE for " << s.name;
    for (const auto& [key, value] : s.labels) {
      EXPECT_EQ(allowed_labels.count(key), 1u) << s.name << " has label " << key;
      // A user name or an address never reaches a label value.
      EXPECT_EQ(value.find('@'), std::string::npos) << s.name;
      EXPECT_EQ(value.find("127.0.0.1"), std::string::npos) << s.name;
    }
  }
}

TEST_F(MetricsTest, ShardLoginsFailoversAndRouteDecisionsAreCounted) {
  StatusOr<int> a = metrics_->ShardIndex("shard-a");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*metrics_->ShardIndex("shard-a"), *a);  // the same name, the same series
  // Every series of a shard exists from its first mention, at 0.
  EXPECT_EQ(Value("imapgate_shard_logins_total", {{"shard", "shard-a"}, {"result", "unavailable"}}), 0);
  EXPECT_EQ(Value("imapgate_failovers_total", {{"shard", "shard-a"}}), 0);
  EXPECT_EQ(Value("imapgate_route_decisions_total", {{"source", "domain"}}), 0);
  metrics_->ShardLogin(*a, LoginResult::kOk, 1);
  metrics_->ShardLogin(*a, LoginResult::kAuthFailed, 0);
  metrics_->ShardLogin(*a, LoginResult::kOk, 2);
  metrics_->ShardLogin(99, LoginResult::kOk, 1);  // an unknown index is dropped, not a crash
  metrics_->RouteDecision("override");
  metrics_->RouteDecision("hash");
  metrics_->RouteDecision("hash");
  metrics_->RouteDecision("nonsense");  // not a source: not counted anywhere
  EXPECT_EQ(Value("imapgate_shard_logins_total", {{"shard", "shard-a"}, {"result", "ok"}}), 2);
  EXPECT_EQ(Value("imapgate_shard_logins_total", {{"shard", "shard-a"}, {"result", "auth_failed"}}), 1);
  EXPECT_EQ(Value("imapgate_failovers_total", {{"shard", "shard-a"}}), 3);
  EXPECT_EQ(Value("imapgate_route_decisions_total", {{"source", "override"}}), 1);
  EXPECT_EQ(Value("imapgate_route_decisions_total", {{"source", "hash"}}), 2);
}

TEST_F(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  constexpr int kThreads = 4;
  constexpr int kEach = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < kEach; ++i) {
        metrics_->ConnectionAccepted(0);
        metrics_->SessionOpened(1);
        metrics_->SessionClosed(1, 0.5);
        metrics_->RelayBytesFlowed(false, 1);
        metrics_->RelayBytesFlowed(true, 2);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(Value("imapgate_connections_accepted_total", {{"listener", "imap"}}), kThreads * kEach);
  EXPECT_EQ(Value("imapgate_sessions_active", {{"listener", "imaps"}}), 0);
  EXPECT_EQ(Value("imapgate_session_duration_seconds_count", {{"listener", "imaps"}}),
            kThreads * kEach);
  EXPECT_EQ(Value("imapgate_relay_bytes_total", {{"direction", "backend_to_client"}}),
            2.0 * kThreads * kEach);
}

TEST_F(MetricsTest, BackendHealthSeriesExistAtZeroAndMoveAlone) {
  const Labels b = {{"backend", "dovecot"}};
  EXPECT_EQ(Value("imapgate_backend_up", b), 0);
  EXPECT_EQ(Value("imapgate_backend_draining", b), 0);
  EXPECT_EQ(Value("imapgate_backend_sessions", b), 0);
  for (int i = 0; i < static_cast<int>(health::CheckOutcome::kCount); ++i) {
    EXPECT_EQ(Value("imapgate_health_checks_total",
                    {{"backend", "dovecot"}, {"result", health::CheckOutcomeName(static_cast<health::CheckOutcome>(i))}}),
              0);
  }
  metrics_->HealthCheckFinished(0, health::CheckOutcome::kTimeout);
  metrics_->HealthCheckFinished(0, health::CheckOutcome::kTimeout);
  metrics_->HealthCheckFinished(0, health::CheckOutcome::kOk);
  EXPECT_EQ(Value("imapgate_health_checks_total", {{"backend", "dovecot"}, {"result", "timeout"}}), 2);
  EXPECT_EQ(Value("imapgate_health_checks_total", {{"backend", "dovecot"}, {"result", "ok"}}), 1);
  EXPECT_EQ(Value("imapgate_health_checks_total", {{"backend", "dovecot"}, {"result", "connect_failed"}}), 0);
  metrics_->SetBackendHealth(0, true, true, 7);
  EXPECT_EQ(Value("imapgate_backend_up", b), 1);
  EXPECT_EQ(Value("imapgate_backend_draining", b), 1);
  EXPECT_EQ(Value("imapgate_backend_sessions", b), 7);
  metrics_->SetBackendHealth(0, false, false, 0);
  EXPECT_EQ(Value("imapgate_backend_up", b), 0);
  EXPECT_EQ(Value("imapgate_backend_draining", b), 0);
  EXPECT_EQ(Value("imapgate_backend_errors_total", b), 0);  // the older series is untouched

  const std::string before = metrics_->Serialize();
  metrics_->HealthCheckFinished(1, health::CheckOutcome::kOk);  // never handed out
  metrics_->HealthCheckFinished(-1, health::CheckOutcome::kOk);
  metrics_->HealthCheckFinished(0, health::CheckOutcome::kCount);
  metrics_->SetBackendHealth(1, true, true, 1);
  EXPECT_EQ(metrics_->Serialize(), before);
}

TEST(MetricsHealthTest, TheCollectHookPublishesTheHealthTableAtEachScrape) {
  auto created = Metrics::Create({"imap"}, "a1", "0");
  ASSERT_TRUE(created.ok());
  MetricsPtr m = std::move(*created);
  health::BackendHealthTable table(health::HealthPolicy{}, nullptr);
  const size_t a1 = *table.Add("a1");
  const size_t a2 = *table.Add("a2");
  table.SessionStarted(a1);
  table.SessionStarted(a1);
  ASSERT_TRUE(table.SetDraining(a2, true));
  for (int i = 0; i < 3; ++i) table.RecordPassive(a2, false, "down");
  int hooked = 0;
  m->SetCollectHook([&] {
    ++hooked;
    PublishBackendHealth(table, *m);
  });
  auto value = [&](const std::string& name, const std::string& backend) {
    for (const Sample& s : Parse(m->Serialize()).samples) {
      if (s.name == name && s.labels == Labels{{"backend", backend}}) return s.value;
    }
    ADD_FAILURE() << "no " << name << " for " << backend;
    return -1.0;
  };
  EXPECT_EQ(value("imapgate_backend_up", "a1"), 1);
  EXPECT_EQ(value("imapgate_backend_sessions", "a1"), 2);
  EXPECT_EQ(value("imapgate_backend_draining", "a1"), 0);
  EXPECT_EQ(value("imapgate_backend_up", "a2"), 0);  // a backend added by the table gets series
  EXPECT_EQ(value("imapgate_backend_draining", "a2"), 1);
  table.SessionEnded(a1);
  ASSERT_TRUE(table.SetDraining(a2, false));
  EXPECT_EQ(value("imapgate_backend_sessions", "a1"), 1);  // fresh at the next scrape
  EXPECT_EQ(value("imapgate_backend_draining", "a2"), 0);
  EXPECT_EQ(hooked, 7);
  m->SetCollectHook({});
  table.SessionEnded(a1);
  EXPECT_EQ(value("imapgate_backend_sessions", "a1"), 1);  // no hook, no refresh
  EXPECT_EQ(hooked, 7);
}

TEST(MetricsCreateTest, NoListenersStillServesGlobalSeries) {
  auto created = Metrics::Create({}, "b", "0");
  ASSERT_TRUE(created.ok());
  MetricsPtr m = std::move(*created);
  m->ConnectionAccepted(0);  // ignored, no listener 0
  m->BackendError(0);
  const std::string text = m->Serialize();
  EXPECT_NE(text.find("imapgate_build_info{version=\"0\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("imapgate_backend_errors_total{backend=\"b\"} 1"), std::string::npos);
}

TEST(MetricsCreateTest, LabelValuesAreEscaped) {
  auto created = Metrics::Create({"we\"ird\\name"}, "b", "0");
  ASSERT_TRUE(created.ok());
  MetricsPtr m = std::move(*created);
  m->ConnectionAccepted(0);
  Exposition e = Parse(m->Serialize());
  bool found = false;
  for (const Sample& s : e.samples) {
    if (s.name == "imapgate_connections_accepted_total") {
      EXPECT_EQ(s.labels.at("listener"), "we\"ird\\name");
      EXPECT_EQ(s.value, 1);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(MetricsRuntimeTest, ListenersAndBackendsAddedAtRuntimeGetTheirOwnSeries) {
  auto created = Metrics::Create({"imap"}, "b0", "0");
  ASSERT_TRUE(created.ok());
  MetricsPtr m = std::move(*created);
  auto same = m->ListenerIndex("imap");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, 0);  // a known name keeps its index
  auto added = m->ListenerIndex("submission-new");
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(*added, 1);
  m->ConnectionAccepted(*added);
  m->ConnectionAccepted(*added);
  auto backend = m->BackendIndex("shard-2");
  ASSERT_TRUE(backend.ok());
  EXPECT_EQ(*backend, 1);
  m->BackendError(*backend);
  m->BackendError(57);  // never handed out: ignored
  Exposition e = Parse(m->Serialize());
  double accepted = -1, shard_errors = -1, b0_errors = -1;
  for (const Sample& s : e.samples) {
    if (s.name == "imapgate_connections_accepted_total" && s.labels.at("listener") == "submission-new") {
      accepted = s.value;
    }
    if (s.name == "imapgate_backend_errors_total" && s.labels.at("backend") == "shard-2") shard_errors = s.value;
    if (s.name == "imapgate_backend_errors_total" && s.labels.at("backend") == "b0") b0_errors = s.value;
  }
  EXPECT_EQ(accepted, 2);
  EXPECT_EQ(shard_errors, 1);
  EXPECT_EQ(b0_errors, 0);
}

TEST(MetricsRuntimeTest, AddingWhileWorkersCountIsSafe) {
  auto created = Metrics::Create({"imap"}, "b0", "0");
  ASSERT_TRUE(created.ok());
  MetricsPtr m = std::move(*created);
  constexpr int kEach = 2000;
  std::thread counter([&] {
    for (int i = 0; i < kEach; ++i) m->ConnectionAccepted(0);
  });
  std::vector<int> indices;
  for (int i = 0; i < 50; ++i) {
    auto idx = m->ListenerIndex("l" + std::to_string(i));
    ASSERT_TRUE(idx.ok());
    indices.push_back(*idx);
  }
  counter.join();
  for (int idx : indices) m->ConnectionAccepted(idx);
  Exposition e = Parse(m->Serialize());
  int seen = 0;
  for (const Sample& s : e.samples) {
    if (s.name != "imapgate_connections_accepted_total") continue;
    ++seen;
    EXPECT_EQ(s.value, s.labels.at("listener") == "imap" ? kEach : 1) << s.labels.at("listener");
  }
  EXPECT_EQ(seen, 51);
}

TEST(MetricsRuntimeTest, TheListenerTableIsBounded) {
  auto created = Metrics::Create({}, "b0", "0");
  ASSERT_TRUE(created.ok());
  MetricsPtr m = std::move(*created);
  for (int i = 0; i < Metrics::kMaxListeners; ++i) {
    ASSERT_TRUE(m->ListenerIndex("l" + std::to_string(i)).ok()) << i;
  }
  auto over = m->ListenerIndex("one-too-many");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(m->ListenerIndex("l3").ok());  // known names still resolve
}

// --- Configuration reloads (issue D). ---

TEST_F(MetricsTest, ReloadSeriesExistFromStartUp) {
  EXPECT_EQ(Value("imapgate_config_reloads_total", {{"result", "ok"}}), 0);
  EXPECT_EQ(Value("imapgate_config_reloads_total", {{"result", "failed"}}), 0);
  EXPECT_EQ(Value("imapgate_config_last_reload_timestamp_seconds", {}), 0);
  Exposition e = Parse(metrics_->Serialize());
  EXPECT_EQ(e.types["imapgate_config_reloads_total"], "counter");
  EXPECT_EQ(e.types["imapgate_config_last_reload_timestamp_seconds"], "gauge");
}

TEST_F(MetricsTest, ReloadsCountPerResultAndOnlyASuccessMovesTheTimestamp) {
  metrics_->ConfigLoaded(1000);
  EXPECT_EQ(Value("imapgate_config_last_reload_timestamp_seconds", {}), 1000);
  metrics_->ConfigReloaded(false, 2000);
  metrics_->ConfigReloaded(false, 2500);
  EXPECT_EQ(Value("imapgate_config_reloads_total", {{"result", "failed"}}), 2);
  EXPECT_EQ(Value("imapgate_config_reloads_total", {{"result", "ok"}}), 0);
  EXPECT_EQ(Value("imapgate_config_last_reload_timestamp_seconds", {}), 1000);
  metrics_->ConfigReloaded(true, 3000.5);
  EXPECT_EQ(Value("imapgate_config_reloads_total", {{"result", "ok"}}), 1);
  EXPECT_EQ(Value("imapgate_config_reloads_total", {{"result", "failed"}}), 2);
  EXPECT_EQ(Value("imapgate_config_last_reload_timestamp_seconds", {}), 3000.5);
}

}  // namespace
}  // namespace imapgate::stats
