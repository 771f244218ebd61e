// Metrics implemented on prometheus-cpp (core only: no exposer, no civetweb, no TLS library).

#include "stats/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <exception>
#include <map>
#include <mutex>
#include <new>
#include <utility>

#include "health/backend_health_table.h"
#include "stats/abuse_metrics.h"
#include "stats/backend_metrics.h"
#include "stats/session_tls_metrics.h"

namespace imapgate::stats {
namespace {

constexpr size_t kReasonCount = static_cast<size_t>(RejectReason::kCount);
constexpr size_t kResultCount = static_cast<size_t>(LoginResult::kCount);
constexpr size_t kOutcomeCount = static_cast<size_t>(health::CheckOutcome::kCount);

// Sessions last from a refused greeting (well under a second) to an IDLE client held all day.
const prometheus::Histogram::BucketBoundaries& SessionBuckets() {
  static const auto* const kBuckets =
      new prometheus::Histogram::BucketBoundaries{0.1, 1, 10, 60, 300, 1800, 7200, 86400};
  return *kBuckets;
}

// A login is a backend round trip plus, for a local user file, a deliberately slow hash.
const prometheus::Histogram::BucketBoundaries& LoginBuckets() {
  static const auto* const kBuckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return *kBuckets;
}

// The series of one listener, created when its name is first seen; the pointers are owned by
// their families.
struct ListenerSeries {
  prometheus::Counter* accepted = nullptr;
  prometheus::Gauge* active = nullptr;
  prometheus::Histogram* session_duration = nullptr;
  std::array<prometheus::Counter*, kResultCount> logins{};
  prometheus::Histogram* login_duration = nullptr;
  std::array<prometheus::Counter*, kReasonCount> rejections{};
  prometheus::Counter* cleartext_logins_refused = nullptr;
  prometheus::Counter* proxy_ok = nullptr;
  prometheus::Counter* proxy_refused = nullptr;
  std::unique_ptr<internal::ListenerSessionTls> session_tls;  // issue E
};

// The series of one backend, created when its name is first seen; owned by their families.
struct BackendSeries {
  prometheus::Counter* errors = nullptr;
  prometheus::Gauge* up = nullptr;
  prometheus::Gauge* draining = nullptr;
  prometheus::Gauge* sessions = nullptr;
  std::array<prometheus::Counter*, kOutcomeCount> checks{};
};

// Issue B's label values, fixed (metric labels are bounded enums or config names only).
constexpr std::array<std::string_view, 5> kAuthMechanisms = {"LOGIN", "PLAIN", "SASL-LOGIN", "XOAUTH2", "OAUTHBEARER"};
constexpr std::array<std::string_view, 5> kAuthMechanismLabels = {"login", "plain", "sasl_login", "xoauth2",
                                                                  "oauthbearer"};
constexpr std::array<std::string_view, 5> kAuthResults = {"ok", "fail", "unavailable", "not_mine", "pass_through"};
constexpr std::array<std::string_view, 4> kFactorKinds = {"totp", "push", "app_password", "remembered"};
constexpr std::array<std::string_view, 6> kFactorResults = {"ok", "fail", "replayed", "denied", "timeout", "error"};

template <size_t N>
int IndexOf(const std::array<std::string_view, N>& values, std::string_view v) {
  for (size_t i = 0; i < N; ++i) {
    if (values[i] == v) return static_cast<int>(i);
  }
  return -1;
}

// The series of one auth source, created when its name is first seen.
struct AuthSourceSeries {
  std::array<std::array<prometheus::Counter*, kAuthResults.size()>, kAuthMechanisms.size()> attempts{};
  prometheus::Histogram* duration = nullptr;
};

// The series of one shard, created when its name is first seen.
struct ShardSeries {
  std::array<prometheus::Counter*, kResultCount> logins{};
  prometheus::Counter* failovers = nullptr;
};

// A fixed table of series that grows at runtime without locking readers: slots are written once,
// under the owner's mutex, and published with a release store; readers load with acquire.
template <typename Series, int N>
class SeriesTable {
 public:
  ~SeriesTable() {
    for (auto& slot : slots_) delete slot.load(std::memory_order_relaxed);
  }
  const Series* At(int i) const {
    if (i < 0 || i >= N) return nullptr;
    return slots_[static_cast<size_t>(i)].load(std::memory_order_acquire);
  }
  // Caller holds the owner's mutex. Returns the index, or -1 when the table is full.
  int Add(std::unique_ptr<Series> s) {
    if (size_ >= N) return -1;
    slots_[static_cast<size_t>(size_)].store(s.release(), std::memory_order_release);
    return size_++;
  }

 private:
  std::array<std::atomic<const Series*>, N> slots_{};
  int size_ = 0;
};

struct Families {
  prometheus::Family<prometheus::Counter>* accepted = nullptr;
  prometheus::Family<prometheus::Gauge>* active = nullptr;
  prometheus::Family<prometheus::Counter>* cleartext = nullptr;
  prometheus::Family<prometheus::Counter>* proxy_headers = nullptr;
  prometheus::Family<prometheus::Histogram>* session_duration = nullptr;
  prometheus::Family<prometheus::Counter>* logins = nullptr;
  prometheus::Family<prometheus::Histogram>* login_duration = nullptr;
  prometheus::Family<prometheus::Counter>* rejections = nullptr;
  prometheus::Family<prometheus::Counter>* backend_errors = nullptr;
  prometheus::Family<prometheus::Counter>* shard_logins = nullptr;
  prometheus::Family<prometheus::Counter>* failovers = nullptr;
  prometheus::Family<prometheus::Gauge>* backend_up = nullptr;
  prometheus::Family<prometheus::Gauge>* backend_draining = nullptr;
  prometheus::Family<prometheus::Gauge>* backend_sessions = nullptr;
  prometheus::Family<prometheus::Counter>* health_checks = nullptr;
};

class PrometheusMetrics final : public Metrics {
 public:
  PrometheusMetrics() : registry_(std::make_shared<prometheus::Registry>()) {}

  // Registers every family and creates the global series. May throw (std::bad_alloc, or
  // std::invalid_argument from prometheus-cpp); Create() catches.
  void Build(const std::string& version);

  StatusOr<int> ListenerIndex(const std::string& name) override {
    std::lock_guard<std::mutex> lock(add_mu_);
    auto it = listener_index_.find(name);
    if (it != listener_index_.end()) return it->second;
    try {
      auto s = std::make_unique<ListenerSeries>();
      s->accepted = &families_.accepted->Add({{"listener", name}});
      s->active = &families_.active->Add({{"listener", name}});
      s->session_duration = &families_.session_duration->Add({{"listener", name}}, SessionBuckets());
      for (size_t i = 0; i < kResultCount; ++i) {
        s->logins[i] = &families_.logins->Add(
            {{"listener", name}, {"result", LoginResultName(static_cast<LoginResult>(i))}});
      }
      s->login_duration = &families_.login_duration->Add({{"listener", name}}, LoginBuckets());
      for (size_t i = 0; i < kReasonCount; ++i) {
        s->rejections[i] = &families_.rejections->Add(
            {{"listener", name}, {"reason", RejectReasonName(static_cast<RejectReason>(i))}});
      }
      s->session_tls = session_tls_->AddListener(name);
      s->cleartext_logins_refused = &families_.cleartext->Add({{"listener", name}});
      s->proxy_ok = &families_.proxy_headers->Add({{"listener", name}, {"result", "ok"}});
      s->proxy_refused = &families_.proxy_headers->Add({{"listener", name}, {"result", "refused"}});
      const int index = listeners_.Add(std::move(s));
      if (index < 0) return Status(StatusCode::kResourceExhausted, "too many listener names for metrics");
      listener_index_.emplace(name, index);
      return index;
    } catch (const std::exception& e) {
      return Internal(std::string("metrics: listener series: ") + e.what());
    }
  }

  StatusOr<int> ShardIndex(const std::string& name) override {
    std::lock_guard<std::mutex> lock(add_mu_);
    auto it = shard_index_.find(name);
    if (it != shard_index_.end()) return it->second;
    try {
      auto sh = std::make_unique<ShardSeries>();
      for (size_t i = 0; i < kResultCount; ++i) {
        sh->logins[i] = &families_.shard_logins->Add(
            {{"shard", name}, {"result", LoginResultName(static_cast<LoginResult>(i))}});
      }
      sh->failovers = &families_.failovers->Add({{"shard", name}});
      const int index = shards_.Add(std::move(sh));
      if (index < 0) return Status(StatusCode::kResourceExhausted, "too many shard names for metrics");
      backend_relay_->AddShard(index, name);
      shard_index_.emplace(name, index);
      return index;
    } catch (const std::exception& e) {
      return Internal(std::string("metrics: shard series: ") + e.what());
    }
  }

  void ShardLogin(int shard, LoginResult result, int failovers) override {
    const ShardSeries* s = shards_.At(shard);
    if (s == nullptr || result >= LoginResult::kCount) return;
    s->logins[static_cast<size_t>(result)]->Increment();
    if (failovers > 0) s->failovers->Increment(failovers);
  }

  void RouteDecision(std::string_view source) override {
    for (size_t i = 0; i < kRouteSources.size(); ++i) {
      if (kRouteSources[i] == source) {
        route_decisions_[i]->Increment();
        return;
      }
    }
  }

  StatusOr<int> BackendIndex(const std::string& name) override {
    std::lock_guard<std::mutex> lock(add_mu_);
    auto it = backend_index_.find(name);
    if (it != backend_index_.end()) return it->second;
    try {
      auto b = std::make_unique<BackendSeries>();
      b->errors = &families_.backend_errors->Add({{"backend", name}});
      b->up = &families_.backend_up->Add({{"backend", name}});
      b->draining = &families_.backend_draining->Add({{"backend", name}});
      b->sessions = &families_.backend_sessions->Add({{"backend", name}});
      for (size_t i = 0; i < kOutcomeCount; ++i) {
        b->checks[i] = &families_.health_checks->Add(
            {{"backend", name}, {"result", health::CheckOutcomeName(static_cast<health::CheckOutcome>(i))}});
      }
      const int index = backends_.Add(std::move(b));
      if (index < 0) return Status(StatusCode::kResourceExhausted, "too many backend names for metrics");
      backend_relay_->AddBackend(index, name);
      backend_index_.emplace(name, index);
      return index;
    } catch (const std::exception& e) {
      return Internal(std::string("metrics: backend series: ") + e.what());
    }
  }

  void ConnectionAccepted(int listener) override {
    if (const ListenerSeries* s = At(listener)) s->accepted->Increment();
  }
  void SessionOpened(int listener) override {
    if (const ListenerSeries* s = At(listener)) s->active->Increment();
  }
  void SessionClosed(int listener, double duration_seconds) override {
    if (const ListenerSeries* s = At(listener)) {
      s->active->Decrement();
      s->session_duration->Observe(duration_seconds);
    }
  }
  void LoginFinished(int listener, LoginResult result, double seconds) override {
    const ListenerSeries* s = At(listener);
    const auto i = static_cast<size_t>(result);
    if (s == nullptr || i >= kResultCount) return;
    s->logins[i]->Increment();
    if (result == LoginResult::kOk) s->login_duration->Observe(seconds);
  }
  void PreauthRejected(int listener, RejectReason reason) override {
    const ListenerSeries* s = At(listener);
    const auto i = static_cast<size_t>(reason);
    if (s == nullptr || i >= kReasonCount) return;
    s->rejections[i]->Increment();
  }
  void ProxyHeader(int listener, bool ok) override {
    if (const ListenerSeries* s = At(listener)) (ok ? s->proxy_ok : s->proxy_refused)->Increment();
  }
  void CleartextLoginRefused(int listener) override {
    if (const ListenerSeries* s = At(listener)) s->cleartext_logins_refused->Increment();
  }
  void BackendError(int backend) override {
    if (const BackendSeries* b = backends_.At(backend)) b->errors->Increment();
  }
  void SetBackendHealth(int backend, bool up, bool draining, int64_t active_sessions) override {
    const BackendSeries* b = backends_.At(backend);
    if (b == nullptr) return;
    b->up->Set(up ? 1 : 0);
    b->draining->Set(draining ? 1 : 0);
    b->sessions->Set(static_cast<double>(active_sessions));
  }
  void HealthCheckFinished(int backend, health::CheckOutcome outcome) override {
    const BackendSeries* b = backends_.At(backend);
    const auto i = static_cast<size_t>(outcome);
    if (b == nullptr || i >= kOutcomeCount) return;
    b->checks[i]->Increment();
  }

  // --- Sessions, TLS and process (issue E), in SessionTlsSeries. ---
  void TlsHandshake(int listener, const TlsHandshakeEvent& event) override {
    if (const ListenerSeries* s = At(listener)) internal::SessionTlsSeries::Handshake(*s->session_tls, event);
  }
  void SessionEnded(int listener, std::string_view end) override {
    if (const ListenerSeries* s = At(listener)) internal::SessionTlsSeries::Ended(*s->session_tls, end);
  }
  void SetStartTime(double unix_seconds) override { session_tls_->SetStartTime(unix_seconds); }
  void SetCertificateNotAfter(int listener, double unix_seconds) override {
    if (const ListenerSeries* s = At(listener)) internal::SessionTlsSeries::SetNotAfter(*s->session_tls, unix_seconds);
  }
  void SetSessionsLimit(int64_t sessions) override { session_tls_->SetSessionsLimit(sessions); }
  void SetLogWriteFailures(uint64_t total) override { session_tls_->SetLogWriteFailures(total); }

  // --- Configuration reloads (issue D). ---
  void ConfigReloaded(bool ok, double unix_seconds) override {
    (ok ? reloads_ok_ : reloads_failed_)->Increment();
    if (ok) last_reload_->Set(unix_seconds);
    session_tls_->SetLastReloadSuccessful(ok);
  }
  void ConfigLoaded(double unix_seconds) override {
    last_reload_->Set(unix_seconds);
    session_tls_->SetLastReloadSuccessful(true);
  }

  std::string Serialize() const override {
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(hook_mu_);
      hook = collect_hook_;
    }
    if (hook) hook();  // outside the lock: the hook may take BackendIndex's
    backend_relay_->PublishRelayBytes();
    return prometheus::TextSerializer().Serialize(registry_->Collect());
  }

 private:
  // The series of listener index i, or null when i is out of range (the event is dropped
  // rather than corrupting memory: a wrong index is a caller bug, not a reason to crash).
  const ListenerSeries* At(int i) const { return listeners_.At(i); }

  void SetCollectHook(std::function<void()> hook) override {
    std::lock_guard<std::mutex> lock(hook_mu_);
    collect_hook_ = std::move(hook);
  }

  std::shared_ptr<prometheus::Registry> registry_;
  Families families_;
  std::mutex add_mu_;  // the add path only (ListenerIndex, BackendIndex)
  std::map<std::string, int> listener_index_;
  std::map<std::string, int> backend_index_;
  SeriesTable<ListenerSeries, kMaxListeners> listeners_;
  SeriesTable<BackendSeries, kMaxBackends> backends_;
  std::map<std::string, int> shard_index_;
  SeriesTable<ShardSeries, kMaxBackends> shards_;
  static constexpr std::array<std::string_view, 4> kRouteSources = {"auth", "override", "domain", "hash"};
  std::array<prometheus::Counter*, 4> route_decisions_{};
  mutable std::mutex hook_mu_;  // collect_hook_ only
  std::function<void()> collect_hook_;
  // Issue E's backend and relay series.
  std::unique_ptr<internal::BackendRelaySeries> backend_relay_;
  void BackendConnected(int backend, double seconds) override { backend_relay_->Connected(backend, seconds); }
  void BackendLoggedIn(int backend, double seconds) override { backend_relay_->LoggedIn(backend, seconds); }
  void SetShardBackends(const std::vector<ShardBackendCount>& shards) override {
    std::vector<internal::BackendRelaySeries::ShardCount> counts;
    counts.reserve(shards.size());
    for (const ShardBackendCount& c : shards) counts.push_back({c.shard, c.configured, c.up});
    backend_relay_->SetShards(counts);
  }
  void RelayBytesFlowed(bool backend_to_client, uint64_t bytes) override {
    backend_relay_->RelayBytes(backend_to_client, bytes);
  }
  // Issue B, created in BuildAuthMetrics.
  StatusOr<int> AuthSourceIndex(const std::string& name) override {
    std::lock_guard<std::mutex> lock(add_mu_);
    auto it = auth_source_index_.find(name);
    if (it != auth_source_index_.end()) return it->second;
    try {
      auto s = std::make_unique<AuthSourceSeries>();
      for (size_t m = 0; m < kAuthMechanisms.size(); ++m) {
        for (size_t r = 0; r < kAuthResults.size(); ++r) {
          s->attempts[m][r] = &auth_attempts_->Add({{"source", name},
                                                    {"mechanism", std::string(kAuthMechanismLabels[m])},
                                                    {"result", std::string(kAuthResults[r])}});
        }
      }
      s->duration = &auth_duration_->Add({{"source", name}}, LoginBuckets());
      const int index = auth_sources_.Add(std::move(s));
      if (index < 0) return Status(StatusCode::kResourceExhausted, "too many auth source names for metrics");
      auth_source_index_.emplace(name, index);
      return index;
    } catch (const std::exception& e) {
      return Internal(std::string("metrics: auth source series: ") + e.what());
    }
  }
  void AuthAttempt(int source, std::string_view mechanism, std::string_view result, double seconds) override {
    const AuthSourceSeries* s = auth_sources_.At(source);
    const int m = IndexOf(kAuthMechanisms, mechanism);
    const int r = IndexOf(kAuthResults, result);
    if (s == nullptr || m < 0 || r < 0) return;
    s->attempts[static_cast<size_t>(m)][static_cast<size_t>(r)]->Increment();
    s->duration->Observe(seconds);
  }
  void SecondFactor(std::string_view kind, std::string_view result) override {
    const int k = IndexOf(kFactorKinds, kind);
    const int r = IndexOf(kFactorResults, result);
    if (k < 0 || r < 0) return;
    second_factor_[static_cast<size_t>(k)][static_cast<size_t>(r)]->Increment();
  }
  void HashPoolRejected() override { hash_pool_rejected_->Increment(); }
  void SetHashPoolQueued(int64_t queued) override { hash_pool_queued_->Set(static_cast<double>(queued)); }

  prometheus::Family<prometheus::Counter>* auth_attempts_ = nullptr;
  prometheus::Family<prometheus::Histogram>* auth_duration_ = nullptr;
  std::map<std::string, int> auth_source_index_;
  SeriesTable<AuthSourceSeries, kMaxAuthSources> auth_sources_;
  std::array<std::array<prometheus::Counter*, kFactorResults.size()>, kFactorKinds.size()> second_factor_{};
  prometheus::Counter* hash_pool_rejected_ = nullptr;
  prometheus::Gauge* hash_pool_queued_ = nullptr;
  void BuildAuthMetrics(prometheus::Registry& r);

  // Issue C.
  std::unique_ptr<internal::AbuseSeries> abuse_;
  // Issue E (created in Build before any listener).
  std::unique_ptr<internal::SessionTlsSeries> session_tls_;
  void AbuseAction(std::string_view action, std::string_view reason) override { abuse_->Action(action, reason); }
  void ConnectionRefused(std::string_view reason) override { abuse_->ConnectionRefused(reason); }
  void AbuseStoreCall(std::string_view store, double seconds, bool ok) override {
    abuse_->StoreCall(store, seconds, ok);
  }
  void AbuseFailOpen() override { abuse_->FailOpen(); }
  void SetAbuseBlocked(std::string_view scope, int64_t count) override { abuse_->SetBlocked(scope, count); }
  void AbusePolicyHook(std::string_view result) override { abuse_->PolicyHook(result); }

  // Configuration reloads (issue D), created in BuildReloadMetrics.
  prometheus::Counter* reloads_ok_ = nullptr;
  prometheus::Counter* reloads_failed_ = nullptr;
  prometheus::Gauge* last_reload_ = nullptr;
  void BuildReloadMetrics(prometheus::Registry& r);
};

// Authentication (issue B): the global series exist from start-up; a source's come with its name.
void PrometheusMetrics::BuildAuthMetrics(prometheus::Registry& r) {
  auth_attempts_ = &prometheus::BuildCounter()
                        .Name("imapgate_auth_attempts_total")
                        .Help("Answers of the auth chain's sources, per source, SASL mechanism and result "
                              "(ok, fail, unavailable, not_mine, pass_through).")
                        .Register(r);
  auth_duration_ = &prometheus::BuildHistogram()
                        .Name("imapgate_auth_duration_seconds")
                        .Help("How long one auth source took to answer one login (hash pool wait included).")
                        .Register(r);
  auto& factors = prometheus::BuildCounter()
                      .Name("imapgate_second_factor_total")
                      .Help("Second-factor outcomes per kind (totp, push, app_password, remembered) and result.")
                      .Register(r);
  for (size_t k = 0; k < kFactorKinds.size(); ++k) {
    for (size_t x = 0; x < kFactorResults.size(); ++x) {
      second_factor_[k][x] =
          &factors.Add({{"kind", std::string(kFactorKinds[k])}, {"result", std::string(kFactorResults[x])}});
    }
  }
  hash_pool_rejected_ = &prometheus::BuildCounter()
                             .Name("imapgate_auth_hash_pool_rejected_total")
                             .Help("Password checks refused (NO [UNAVAILABLE]) because the hash pool's queue was full.")
                             .Register(r)
                             .Add({});
  hash_pool_queued_ = &prometheus::BuildGauge()
                           .Name("imapgate_auth_hash_pool_queued")
                           .Help("Password checks waiting for a hash thread.")
                           .Register(r)
                           .Add({});
}

// Configuration reloads (issue D): both results and the timestamp exist from start-up.
void PrometheusMetrics::BuildReloadMetrics(prometheus::Registry& r) {
  auto& reloads = prometheus::BuildCounter()
                      .Name("imapgate_config_reloads_total")
                      .Help("Configuration reloads (SIGHUP or the admin API), per result.")
                      .Register(r);
  reloads_ok_ = &reloads.Add({{"result", "ok"}});
  reloads_failed_ = &reloads.Add({{"result", "failed"}});
  last_reload_ = &prometheus::BuildGauge()
                      .Name("imapgate_config_last_reload_timestamp_seconds")
                      .Help("When the configuration in effect was loaded (start-up or the last "
                            "successful reload), in seconds since the Unix epoch.")
                      .Register(r)
                      .Add({});
}

void PrometheusMetrics::Build(const std::string& version) {
  prometheus::Registry& r = *registry_;
  prometheus::BuildGauge()
      .Name("imapgate_build_info")
      .Help("Always 1; the version label says which imapgate build is running.")
      .Register(r)
      .Add({{"version", version}})
      .Set(1);
  prometheus::BuildGauge()
      .Name("imapgate_up")
      .Help("Always 1 while the process serves its admin endpoint.")
      .Register(r)
      .Add({})
      .Set(1);

  auto& accepted = prometheus::BuildCounter()
                       .Name("imapgate_connections_accepted_total")
                       .Help("TCP connections accepted, per listener.")
                       .Register(r);
  auto& active = prometheus::BuildGauge()
                     .Name("imapgate_sessions_active")
                     .Help("Client sessions currently open, per listener.")
                     .Register(r);
  auto& session_duration = prometheus::BuildHistogram()
                               .Name("imapgate_session_duration_seconds")
                               .Help("Client session lifetime from accept to close.")
                               .Register(r);
  auto& logins = prometheus::BuildCounter()
                     .Name("imapgate_logins_total")
                     .Help("Login attempts, per listener and result.")
                     .Register(r);
  auto& login_duration = prometheus::BuildHistogram()
                             .Name("imapgate_login_duration_seconds")
                             .Help("Time from the client's login command to the backend's OK.")
                             .Register(r);
  auto& rejections = prometheus::BuildCounter()
                         .Name("imapgate_preauth_rejections_total")
                         .Help("Pre-auth sessions cut off or commands refused, per reason.")
                         .Register(r);
  auto& cleartext = prometheus::BuildCounter()
                        .Name("imapgate_cleartext_logins_refused_total")
                        .Help("LOGIN/AUTHENTICATE refused before STARTTLS, per listener.")
                        .Register(r);

  families_.accepted = &accepted;
  families_.active = &active;
  families_.session_duration = &session_duration;
  families_.logins = &logins;
  families_.login_duration = &login_duration;
  families_.rejections = &rejections;
  families_.cleartext = &cleartext;
  families_.proxy_headers = &prometheus::BuildCounter()
                                 .Name("imapgate_proxy_headers_total")
                                 .Help("PROXY protocol headers read (ok) or refused (untrusted peer, malformed, "
                                       "too long, timeout), per listener.")
                                 .Register(r);

  families_.shard_logins = &prometheus::BuildCounter()
                                .Name("imapgate_shard_logins_total")
                                .Help("Logins routed to a shard, per result (ok, auth_failed, unavailable).")
                                .Register(r);
  families_.failovers = &prometheus::BuildCounter()
                             .Name("imapgate_failovers_total")
                             .Help("Backends of a shard tried during a login and found unusable (the login "
                                   "went on to the next one).")
                             .Register(r);
  auto& decisions = prometheus::BuildCounter()
                        .Name("imapgate_route_decisions_total")
                        .Help("Router decisions by what decided: an auth route, the override file, a "
                              "domain rule, or the hash.")
                        .Register(r);
  for (size_t i = 0; i < kRouteSources.size(); ++i) {
    route_decisions_[i] = &decisions.Add({{"source", std::string(kRouteSources[i])}});
  }
  families_.backend_errors =
      &prometheus::BuildCounter()
           .Name("imapgate_backend_errors_total")
           .Help("Failures talking to a backend (connect, TLS, greeting, protocol).")
           .Register(r);
  families_.backend_up = &prometheus::BuildGauge()
                              .Name("imapgate_backend_up")
                              .Help("1 if the backend passes its health checks (up), 0 if down.")
                              .Register(r);
  families_.backend_draining = &prometheus::BuildGauge()
                                    .Name("imapgate_backend_draining")
                                    .Help("1 while an operator drains the backend (no new logins).")
                                    .Register(r);
  families_.backend_sessions = &prometheus::BuildGauge()
                                    .Name("imapgate_backend_sessions")
                                    .Help("Client sessions currently relayed to the backend.")
                                    .Register(r);
  families_.health_checks = &prometheus::BuildCounter()
                                 .Name("imapgate_health_checks_total")
                                 .Help("Active backend health checks, per backend and result.")
                                 .Register(r);
  backend_relay_ = std::make_unique<internal::BackendRelaySeries>(r);
  BuildReloadMetrics(r);
  BuildAuthMetrics(r);
  abuse_ = std::make_unique<internal::AbuseSeries>(r);
  session_tls_ = std::make_unique<internal::SessionTlsSeries>(r);
}

}  // namespace

const char* RejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::kLineTooLong:
      return "line_too_long";
    case RejectReason::kLiteralTooLarge:
      return "literal_too_large";
    case RejectReason::kPreauthBytes:
      return "preauth_bytes";
    case RejectReason::kPreauthTimeout:
      return "preauth_timeout";
    case RejectReason::kBadCommands:
      return "bad_commands";
    case RejectReason::kStartTlsInjection:
      return "starttls_injection";
    case RejectReason::kTlsHandshake:
      return "tls_handshake";
    case RejectReason::kAuthAttempts:
      return "auth_attempts";
    case RejectReason::kCount:
      break;
  }
  return "unknown";
}

const char* LoginResultName(LoginResult r) {
  switch (r) {
    case LoginResult::kOk:
      return "ok";
    case LoginResult::kAuthFailed:
      return "auth_failed";
    case LoginResult::kUnavailable:
      return "unavailable";
    case LoginResult::kCount:
      break;
  }
  return "unknown";
}

void PublishBackendHealth(const health::BackendHealthTable& table, Metrics& metrics) {
  const size_t n = table.size();
  for (size_t i = 0; i < n; ++i) {
    StatusOr<int> index = metrics.BackendIndex(std::string(table.name(i)));
    if (!index.ok()) continue;  // past kMaxBackends names: that backend has no series
    metrics.SetBackendHealth(*index, table.IsUp(i), table.IsDraining(i), table.ActiveSessions(i));
  }
}

StatusOr<std::unique_ptr<Metrics>> Metrics::Create(const std::vector<std::string>& listener_names,
                                                   const std::string& backend_name,
                                                   const std::string& version) {
  std::unique_ptr<PrometheusMetrics> metrics;
  try {
    metrics = std::make_unique<PrometheusMetrics>();
    metrics->Build(version);
  } catch (const std::exception& e) {
    // prometheus-cpp throws on invalid names; ours are fixed, so only out of memory.
    return Internal(std::string("metrics: ") + e.what());
  }
  for (const std::string& name : listener_names) {
    StatusOr<int> i = metrics->ListenerIndex(name);
    if (!i.ok()) return i.status();
  }
  StatusOr<int> b = metrics->BackendIndex(backend_name);
  if (!b.ok()) return b.status();
  return std::unique_ptr<Metrics>(std::move(metrics));
}

}  // namespace imapgate::stats
