#include "upstream/warm_pool.h"

#include <sys/socket.h>

#include <algorithm>
#include <utility>

namespace imapgate::upstream {

// One connection being made for the pool. Reports once to the pool; the pool frees it later
// (on its maintenance tick), never inside the connector's callback.
class WarmPool::Filler final : public ConnectorClient {
 public:
  Filler(WarmPool* pool, size_t slot, uint64_t generation, BackendTarget target)
      : pool_(pool), slot_(slot), generation_(generation), target_(std::move(target)) {}

  Status Start() {
    auto timer = net::Timer::Create(pool_->loop_, [this] {
      if (connector_) connector_->OnTimer();
    });
    if (!timer.ok()) return timer.status();
    timer_ = std::move(*timer);
    auto connector = BackendConnector::Start(pool_->loop_, pool_->time_, target_, timer_.get(), this,
                                             pool_->scratch_.data(), pool_->scratch_.size());
    if (!connector.ok()) return connector.status();
    connector_ = std::move(*connector);
    return Status::Ok();
  }
  void OnBackendReady(BackendConnection connection) override {
    finished_ = true;
    pool_->OnFilled(this, std::move(connection));
  }
  void OnBackendFailed(std::string) override {
    finished_ = true;
    pool_->OnFilled(this, std::nullopt);
  }

  size_t slot() const { return slot_; }
  uint64_t generation() const { return generation_; }
  bool finished() const { return finished_; }

 private:
  WarmPool* pool_;
  size_t slot_;
  uint64_t generation_;
  BackendTarget target_;  // the connector keeps a reference: it lives here
  net::TimerPtr timer_;
  BackendConnectorPtr connector_;
  bool finished_ = false;
};

StatusOr<std::unique_ptr<WarmPool>> WarmPool::Create(net::EventLoop* loop, const TimeSource* time,
                                                     const WarmPoolOptions& options) {
  std::unique_ptr<WarmPool> pool(new WarmPool(loop, time, options));
  WarmPool* raw = pool.get();
  auto tick = net::Timer::Create(loop, [raw] { raw->Maintain(); });
  if (!tick.ok()) return tick.status();
  pool->tick_ = std::move(*tick);
  return pool;
}

WarmPool::WarmPool(net::EventLoop* loop, const TimeSource* time, const WarmPoolOptions& options)
    : loop_(loop), time_(time), options_(options) {}

WarmPool::~WarmPool() {
  fillers_.clear();  // cancels the connects in flight
  slots_.clear();    // closes the ready connections (each watcher before its fd)
}

void WarmPool::SetTargets(std::vector<WarmTarget> targets, const health::BackendHealthTable* health) {
  ++generation_;  // fills of the old set are dropped when they report
  health_ = health;
  slots_.clear();
  for (WarmTarget& t : targets) {
    auto slot = std::make_unique<Slot>();
    slot->target = std::move(t);
    slots_.push_back(std::move(slot));
  }
  if (options_.per_backend > 0) Maintain();
}

uint64_t WarmPool::Epoch(size_t health) const { return health_ ? health_->UnusableEpoch(health) : 0; }

bool WarmPool::Usable(size_t health) const { return health_ == nullptr || health_->IsUsable(health); }

bool WarmPool::Fit(const Slot& slot, const Ready& r) const {
  if (time_->MonotonicNow() - r.made >= options_.max_age) return false;
  if (!Usable(slot.target.health) || r.epoch != Epoch(slot.target.health)) return false;
  if (r.conn.connection.HasBufferedInput()) return false;  // TLS holds bytes nobody asked for
  char c;
  ssize_t n = ::recv(r.conn.connection.fd(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  // EAGAIN: quiet and open. 0: the backend closed it; data: it said something (a BYE, most likely).
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::optional<BackendConnection> WarmPool::Take(size_t health) {
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = *slots_[i];
    if (slot.target.health != health) continue;
    std::optional<BackendConnection> out;
    while (!slot.ready.empty() && !out) {
      Ready r = std::move(slot.ready.front());
      slot.ready.pop_front();
      if (!Fit(slot, r)) continue;  // dropped here: not inside its own callback
      r.conn.connection.set_handler(nullptr);
      out = std::move(r.conn);
    }
    if (out && Usable(health) && slot.ready.size() + slot.filling < options_.per_backend) StartFill(i);
    return out;
  }
  return std::nullopt;
}

size_t WarmPool::ready(size_t health) const {
  for (const auto& slot : slots_) {
    if (slot->target.health == health) return slot->ready.size();
  }
  return 0;
}

void WarmPool::StartFill(size_t slot) {
  auto filler = std::make_unique<Filler>(this, slot, generation_, slots_[slot]->target.target);
  ++slots_[slot]->filling;
  Filler* raw = filler.get();
  fillers_.push_back(std::move(filler));
  if (Status st = raw->Start(); !st.ok()) {
    // Nothing was started (no timer); it reports nothing. Try again on the next tick.
    --slots_[slot]->filling;
    std::erase_if(fillers_, [raw](const auto& f) { return f.get() == raw; });
  }
}

void WarmPool::OnFilled(Filler* filler, std::optional<BackendConnection> conn) {
  if (filler->generation() != generation_) return;  // a connection for an old set of targets
  Slot& slot = *slots_[filler->slot()];
  --slot.filling;
  if (!conn) return;  // the next tick tries again (no burst against a failing backend)
  Ready r;
  r.conn = std::move(*conn);
  r.made = time_->MonotonicNow();
  r.epoch = Epoch(slot.target.health);
  // Watched while it waits: the backend closing it (or saying anything) drops it.
  r.conn.connection.set_handler(this);
  r.conn.connection.watcher().WantWrite(false);
  r.conn.connection.watcher().WantRead(true);
  slot.ready.push_back(std::move(r));
}

void WarmPool::OnIo(net::IoWatcher* watcher, bool, bool) {
  // A waiting connection became readable: not fit any more. Disarm it now; it is dropped by the
  // next Take or tick (a watcher is never destroyed inside its own callback).
  watcher->set_handler(nullptr);
  watcher->WantRead(false);
  tick_->Arm(std::chrono::milliseconds(0));
}

void WarmPool::Maintain() {
  std::erase_if(fillers_, [](const auto& f) { return f->finished(); });
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = *slots_[i];
    std::erase_if(slot.ready, [&](const Ready& r) {
      return !r.conn.connection.watcher_ptr() || !r.conn.connection.watcher_ptr()->wants_read() || !Fit(slot, r);
    });
    if (!Usable(slot.target.health)) continue;
    while (slot.ready.size() + slot.filling < options_.per_backend) {
      size_t before = slot.filling;
      StartFill(i);
      if (slot.filling == before) break;  // could not start one: next tick
    }
  }
  auto period = std::clamp(options_.max_age / 4, std::chrono::milliseconds(250), std::chrono::milliseconds(5000));
  tick_->Arm(period);
}

}  // namespace imapgate::upstream
