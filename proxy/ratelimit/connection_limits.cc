#include "ratelimit/connection_limits.h"

#include <array>
#include <functional>
#include <list>
#include <mutex>
#include <unordered_map>

#include "ratelimit/window.h"

namespace imapgate::ratelimit {
namespace {

constexpr size_t kStripes = 16;
const WindowSpec kAcceptWindow{std::chrono::milliseconds(60'000), 6};

// (user, address) as one key: the user's length first, so no two pairs share a key.
std::string PairKey(const std::string& user, const std::string& address) {
  std::string key = std::to_string(user.size());
  key.push_back(':');
  key.append(user);
  key.append(address);
  return key;
}

}  // namespace

class ConnectionLimits::Impl {
 public:
  using Kind = ConnectionSlot::Kind;

  struct alignas(64) Stripe {
    std::mutex mu;
    // One map per kind (kAddress, kUser, kUserAddress); a key exists while its count is > 0.
    std::array<std::unordered_map<std::string, uint32_t>, 3> counts;
  };

  static size_t MapOf(Kind kind) { return static_cast<size_t>(kind) - 1; }
  Stripe& StripeOf(const std::string& key) {
    return stripes_[std::hash<std::string>()(key) % kStripes];
  }

  // One more for `key` unless it is at `limit` (0: unlimited).
  bool TryIncrement(Kind kind, const std::string& key, uint32_t limit) {
    Stripe& s = StripeOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto& map = s.counts[MapOf(kind)];
    auto it = map.find(key);
    const uint32_t now = it == map.end() ? 0 : it->second;
    if (limit != 0 && now >= limit) return false;
    if (it == map.end()) map.emplace(key, 1); else ++it->second;
    return true;
  }
  void Decrement(Kind kind, const std::string& key) {
    Stripe& s = StripeOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto& map = s.counts[MapOf(kind)];
    auto it = map.find(key);
    if (it == map.end()) return;
    if (--it->second == 0) map.erase(it);
  }
  uint32_t Get(Kind kind, const std::string& key) {
    Stripe& s = StripeOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    const auto& map = s.counts[MapOf(kind)];
    auto it = map.find(key);
    return it == map.end() ? 0 : it->second;
  }

  bool TryIncrementTotal(uint32_t limit) {
    uint32_t now = total_.load(std::memory_order_relaxed);
    do {
      if (limit != 0 && now >= limit) return false;
    } while (!total_.compare_exchange_weak(now, now + 1, std::memory_order_relaxed));
    return true;
  }

  std::atomic<uint32_t> max_per_address_preauth{0};
  std::atomic<uint32_t> max_per_user_address{0};
  std::atomic<uint32_t> max_per_user{0};
  std::atomic<uint32_t> max_total{0};
  std::atomic<uint32_t> accepts_per_minute{0};
  std::atomic<size_t> max_rate_addresses{1};

  std::atomic<uint32_t> total_{0};
  std::array<Stripe, kStripes> stripes_;

  // The accept rate: address -> window, most recently used first.
  struct RateEntry {
    SlidingWindow window;
    std::list<std::string>::iterator lru;
  };
  std::mutex rate_mu_;
  std::unordered_map<std::string, RateEntry> rates_;
  std::list<std::string> rate_lru_;
};

// --- ConnectionSlot ---

ConnectionSlot::ConnectionSlot(ConnectionSlot&& other) noexcept
    : owner_(other.owner_), kind_(other.kind_), key_(std::move(other.key_)) {
  other.owner_ = nullptr;
}

ConnectionSlot& ConnectionSlot::operator=(ConnectionSlot&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = other.owner_;
    kind_ = other.kind_;
    key_ = std::move(other.key_);
    other.owner_ = nullptr;
  }
  return *this;
}

ConnectionSlot::~ConnectionSlot() { Release(); }

void ConnectionSlot::Release() {
  if (owner_ == nullptr) return;
  ConnectionLimits* owner = owner_;
  owner_ = nullptr;
  owner->Release(kind_, key_);
  key_.clear();
}

// --- ConnectionLimits ---

ConnectionLimits::ConnectionLimits(const ConnectionLimitsConfig& config)
    : impl_(std::make_unique<Impl>()) {
  SetConfig(config);
}

ConnectionLimits::~ConnectionLimits() = default;

void ConnectionLimits::SetConfig(const ConnectionLimitsConfig& config) {
  impl_->max_per_address_preauth.store(config.max_per_address_preauth);
  impl_->max_per_user_address.store(config.max_per_user_address);
  impl_->max_per_user.store(config.max_per_user);
  impl_->max_total.store(config.max_total);
  impl_->accepts_per_minute.store(config.accepts_per_minute);
  impl_->max_rate_addresses.store(std::max<size_t>(config.max_rate_addresses, 1));
}

ConnectionLimits::PreauthSlots ConnectionLimits::TryAcquirePreauth(const std::string& address) {
  PreauthSlots slots;
  if (!impl_->TryIncrementTotal(impl_->max_total.load())) {
    slots.refused_by = "total";
    return slots;
  }
  slots.total = ConnectionSlot(this, ConnectionSlot::Kind::kTotal, std::string());
  if (!impl_->TryIncrement(ConnectionSlot::Kind::kAddress, address,
                           impl_->max_per_address_preauth.load())) {
    slots.total.Release();  // both or none
    slots.refused_by = "per_address";
    return slots;
  }
  slots.address = ConnectionSlot(this, ConnectionSlot::Kind::kAddress, address);
  return slots;
}

ConnectionSlot ConnectionLimits::TryAcquireTotal() {
  if (!impl_->TryIncrementTotal(impl_->max_total.load())) return ConnectionSlot();
  return ConnectionSlot(this, ConnectionSlot::Kind::kTotal, std::string());
}

bool ConnectionLimits::TryAccept(const std::string& address, int64_t now_ms) {
  const uint32_t limit = impl_->accepts_per_minute.load();
  if (limit == 0) return true;  // unlimited: nothing kept
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.rate_mu_);
  auto it = m.rates_.find(address);
  if (it == m.rates_.end()) {
    const size_t bound = m.max_rate_addresses.load();
    while (!m.rates_.empty() && m.rates_.size() >= bound) {  // the least recent address goes
      m.rates_.erase(m.rate_lru_.back());
      m.rate_lru_.pop_back();
    }
    m.rate_lru_.push_front(address);
    it = m.rates_.emplace(address, Impl::RateEntry{SlidingWindow(), m.rate_lru_.begin()}).first;
  } else {
    m.rate_lru_.splice(m.rate_lru_.begin(), m.rate_lru_, it->second.lru);
  }
  it->second.window.Add(kAcceptWindow, now_ms, 0);
  return it->second.window.Count(kAcceptWindow, now_ms) <= limit;
}

ConnectionLimits::SessionSlots ConnectionLimits::TryAcquireSession(const std::string& user,
                                                                   const std::string& address) {
  SessionSlots slots;
  if (!impl_->TryIncrement(ConnectionSlot::Kind::kUser, user, impl_->max_per_user.load())) {
    slots.refused_by = "per_user";
    return slots;
  }
  slots.user = ConnectionSlot(this, ConnectionSlot::Kind::kUser, user);
  std::string pair = PairKey(user, address);
  if (!impl_->TryIncrement(ConnectionSlot::Kind::kUserAddress, pair,
                           impl_->max_per_user_address.load())) {
    slots.user.Release();  // both or none
    slots.refused_by = "per_user_address";
    return slots;
  }
  slots.user_address = ConnectionSlot(this, ConnectionSlot::Kind::kUserAddress, std::move(pair));
  return slots;
}

uint32_t ConnectionLimits::total() const { return impl_->total_.load(); }

uint32_t ConnectionLimits::address_count(const std::string& address) const {
  return impl_->Get(ConnectionSlot::Kind::kAddress, address);
}

uint32_t ConnectionLimits::user_count(const std::string& user) const {
  return impl_->Get(ConnectionSlot::Kind::kUser, user);
}

uint32_t ConnectionLimits::user_address_count(const std::string& user,
                                              const std::string& address) const {
  return impl_->Get(ConnectionSlot::Kind::kUserAddress, PairKey(user, address));
}

void ConnectionLimits::Release(ConnectionSlot::Kind kind, const std::string& key) {
  if (kind == ConnectionSlot::Kind::kTotal) {
    impl_->total_.fetch_sub(1);
  } else {
    impl_->Decrement(kind, key);
  }
}

}  // namespace imapgate::ratelimit
