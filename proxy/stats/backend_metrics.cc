#include "stats/backend_metrics.h"

#include <vector>

namespace imapgate::stats::internal {
namespace {

// A connect on a LAN takes well under a millisecond, a TLS one a few; a backend under load or
// across a WAN tens to hundreds; the connect timeout defaults to 5 s.
const prometheus::Histogram::BucketBoundaries& ConnectBuckets() {
  static const auto* const kBuckets = new prometheus::Histogram::BucketBoundaries{
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  return *kBuckets;
}

// A backend login is the connect plus a LOGIN round trip (the backend may check a hash, or ask
// its own auth service); the login timeout defaults to 15 s.
const prometheus::Histogram::BucketBoundaries& LoginBuckets() {
  static const auto* const kBuckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15};
  return *kBuckets;
}

}  // namespace

BackendRelaySeries::BackendRelaySeries(prometheus::Registry& r) {
  connect_family_ = &prometheus::BuildHistogram()
                         .Name("imapgate_backend_connect_duration_seconds")
                         .Help("Connects to a backend for a login, from the connect to the backend ready for a "
                               "command (TCP, TLS, greeting, STARTTLS), successful ones, per backend.")
                         .Register(r);
  login_family_ = &prometheus::BuildHistogram()
                       .Name("imapgate_backend_login_duration_seconds")
                       .Help("Successful backend logins, from the start of the backend connection (or of the "
                             "LOGIN on a warm one) to the backend's tagged OK, per backend.")
                       .Register(r);
  shard_backends_family_ = &prometheus::BuildGauge()
                                .Name("imapgate_shard_backends")
                                .Help("Backends configured in the shard.")
                                .Register(r);
  shard_up_family_ = &prometheus::BuildGauge()
                          .Name("imapgate_shard_backends_up")
                          .Help("Backends of the shard that may take a login now (up and not draining).")
                          .Register(r);
  auto& relay = prometheus::BuildCounter()
                    .Name("imapgate_relay_bytes_total")
                    .Help("Bytes relayed after login, per direction, counted as they flow.")
                    .Register(r);
  c2b_ = &relay.Add({{"direction", "client_to_backend"}});
  b2c_ = &relay.Add({{"direction", "backend_to_client"}});
}

BackendRelaySeries::~BackendRelaySeries() {
  for (auto& b : backends_) delete b.load(std::memory_order_relaxed);
  for (auto& s : shards_) delete s.load(std::memory_order_relaxed);
}

void BackendRelaySeries::AddBackend(int index, const std::string& name) {
  if (index < 0 || index >= kMaxEntries) return;
  auto& slot = backends_[static_cast<size_t>(index)];
  if (slot.load(std::memory_order_acquire) != nullptr) return;
  auto b = std::make_unique<Backend>();
  b->connect = &connect_family_->Add({{"backend", name}}, ConnectBuckets());
  b->login = &login_family_->Add({{"backend", name}}, LoginBuckets());
  slot.store(b.release(), std::memory_order_release);
}

void BackendRelaySeries::AddShard(int index, const std::string& name) {
  if (index < 0 || index >= kMaxEntries) return;
  auto& slot = shards_[static_cast<size_t>(index)];
  if (slot.load(std::memory_order_acquire) != nullptr) return;
  auto s = std::make_unique<Shard>();
  s->configured = &shard_backends_family_->Add({{"shard", name}});
  s->up = &shard_up_family_->Add({{"shard", name}});
  slot.store(s.release(), std::memory_order_release);
  if (index >= shard_count_.load(std::memory_order_relaxed)) shard_count_.store(index + 1, std::memory_order_release);
}

void BackendRelaySeries::Connected(int backend, double seconds) {
  if (backend < 0 || backend >= kMaxEntries) return;
  if (const Backend* b = backends_[static_cast<size_t>(backend)].load(std::memory_order_acquire)) {
    b->connect->Observe(seconds);
  }
}

void BackendRelaySeries::LoggedIn(int backend, double seconds) {
  if (backend < 0 || backend >= kMaxEntries) return;
  if (const Backend* b = backends_[static_cast<size_t>(backend)].load(std::memory_order_acquire)) {
    b->login->Observe(seconds);
  }
}

void BackendRelaySeries::SetShards(std::span<const ShardCount> counts) {
  const int known = shard_count_.load(std::memory_order_acquire);
  std::vector<bool> listed(static_cast<size_t>(known), false);
  for (const ShardCount& c : counts) {
    if (c.shard < 0 || c.shard >= known) continue;
    const Shard* s = shards_[static_cast<size_t>(c.shard)].load(std::memory_order_acquire);
    if (s == nullptr) continue;
    s->configured->Set(static_cast<double>(c.configured));
    s->up->Set(static_cast<double>(c.up));
    listed[static_cast<size_t>(c.shard)] = true;
  }
  for (int i = 0; i < known; ++i) {
    if (listed[static_cast<size_t>(i)]) continue;
    if (const Shard* s = shards_[static_cast<size_t>(i)].load(std::memory_order_acquire)) {
      s->configured->Set(0);
      s->up->Set(0);
    }
  }
}

void BackendRelaySeries::PublishRelayBytes() {
  // Counter::Increment ignores 0; exchange() hands each pending byte to exactly one scrape.
  c2b_->Increment(static_cast<double>(pending_c2b_.value.exchange(0, std::memory_order_relaxed)));
  b2c_->Increment(static_cast<double>(pending_b2c_.value.exchange(0, std::memory_order_relaxed)));
}

}  // namespace imapgate::stats::internal
