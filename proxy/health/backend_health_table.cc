#include "health/backend_health_table.h"

#include "common/log.h"

namespace imapgate::health {

struct BackendHealthTable::Entry {
  std::string name;  // written before the entry is published (size_ release), then constant
  std::atomic<uint32_t> updown{0};
  std::atomic<bool> draining{false};
  std::atomic<int64_t> sessions{0};
  std::atomic<uint64_t> unusable_epoch{0};
  std::atomic<bool> checked{false};
  std::atomic<uint8_t> last_check{static_cast<uint8_t>(CheckOutcome::kOk)};
  std::atomic<int64_t> last_check_ns{0};  // wall time since the epoch
  mutable std::mutex text_mu;
  std::string last_check_detail;
  std::string last_failure;
  std::string shard;  // text_mu
};

namespace {

std::string_view Bounded(std::string_view detail) {
  return detail.substr(0, std::min(detail.size(), BackendHealthTable::kMaxDetailBytes));
}

}  // namespace

const char* StateChangeKindName(StateChange::Kind kind) {
  switch (kind) {
    case StateChange::Kind::kDown:
      return "down";
    case StateChange::Kind::kUp:
      return "up";
    case StateChange::Kind::kDraining:
      return "draining";
    case StateChange::Kind::kUndrained:
      return "undrained";
  }
  return "unknown";
}

const char* StateChangeSourceName(StateChange::Source source) {
  switch (source) {
    case StateChange::Source::kCheck:
      return "check";
    case StateChange::Source::kLogin:
      return "login";
    case StateChange::Source::kOperator:
      return "operator";
  }
  return "unknown";
}

void LogStateChange(const StateChange& change) {
  LogEvent e(change.kind == StateChange::Kind::kDown ? LogLevel::kWarn : LogLevel::kInfo,
             "backend_state");
  e.Add("backend", change.name).Add("shard", change.shard.empty() ? std::string_view("-") : change.shard);
  e.Add("from", change.from).Add("to", change.to).Add("state", StateChangeKindName(change.kind));
  e.Add("via", StateChangeSourceName(change.source));
  if (!change.reason.empty()) e.Add("reason", change.reason);
}

BackendHealthTable::BackendHealthTable(HealthPolicy policy, ChangeObserver on_change,
                                       size_t capacity)
    : policy_(policy),
      on_change_(std::move(on_change)),
      capacity_(capacity),
      entries_(std::make_unique<Entry[]>(capacity)) {}

BackendHealthTable::~BackendHealthTable() = default;

StatusOr<size_t> BackendHealthTable::Add(std::string_view name) {
  if (name.empty()) return InvalidArgument("backend health: empty backend name");
  std::lock_guard<std::mutex> lock(add_mu_);
  if (auto it = index_.find(name); it != index_.end()) return it->second;
  const size_t i = size_.load(std::memory_order_relaxed);
  if (i >= capacity_)
    return Status(StatusCode::kResourceExhausted, "backend health: too many backends");
  Entry& e = entries_[i];
  e.name.assign(name);
  e.updown.store(Pack(InitialState(policy_)), std::memory_order_relaxed);
  index_.emplace(std::string(name), i);
  size_.store(i + 1, std::memory_order_release);  // publishes the entry to lock-free readers
  return i;
}

std::optional<size_t> BackendHealthTable::Find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(add_mu_);
  auto it = index_.find(name);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

const BackendHealthTable::Entry* BackendHealthTable::At(size_t i) const {
  return i < size() ? &entries_[i] : nullptr;
}

BackendHealthTable::Entry* BackendHealthTable::At(size_t i) {
  return i < size() ? &entries_[i] : nullptr;
}

void BackendHealthTable::SetShard(size_t i, std::string_view shard) {
  Entry* e = At(i);
  if (e == nullptr) return;
  std::lock_guard<std::mutex> lock(e->text_mu);
  e->shard.assign(shard);
}

std::string BackendHealthTable::ShardOf(const Entry& e) const {
  std::lock_guard<std::mutex> lock(e.text_mu);
  return e.shard;
}

std::string_view BackendHealthTable::name(size_t i) const {
  const Entry* e = At(i);
  return e != nullptr ? std::string_view(e->name) : std::string_view();
}

bool BackendHealthTable::IsUp(size_t i) const {
  const Entry* e = At(i);
  return e != nullptr && Unpack(e->updown.load(std::memory_order_acquire)).up;
}

bool BackendHealthTable::IsDraining(size_t i) const {
  const Entry* e = At(i);
  return e != nullptr && e->draining.load(std::memory_order_acquire);
}

bool BackendHealthTable::IsUsable(size_t i) const {
  const Entry* e = At(i);
  return e != nullptr && Unpack(e->updown.load(std::memory_order_acquire)).up &&
         !e->draining.load(std::memory_order_acquire);
}

int64_t BackendHealthTable::ActiveSessions(size_t i) const {
  const Entry* e = At(i);
  return e != nullptr ? e->sessions.load(std::memory_order_relaxed) : 0;
}

uint64_t BackendHealthTable::UnusableEpoch(size_t i) const {
  const Entry* e = At(i);
  return e != nullptr ? e->unusable_epoch.load(std::memory_order_acquire) : 0;
}

BackendStatus BackendHealthTable::Snapshot(size_t i) const {
  BackendStatus s;
  const Entry* e = At(i);
  if (e == nullptr) return s;
  s.name = e->name;
  s.up = Unpack(e->updown.load(std::memory_order_acquire)).up;
  s.draining = e->draining.load(std::memory_order_acquire);
  s.active_sessions = e->sessions.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(e->text_mu);
  s.checked = e->checked.load(std::memory_order_relaxed);
  s.last_check = static_cast<CheckOutcome>(e->last_check.load(std::memory_order_relaxed));
  s.last_check_time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(e->last_check_ns.load(std::memory_order_relaxed))));
  s.last_check_detail = e->last_check_detail;
  s.last_failure = e->last_failure;
  return s;
}

void BackendHealthTable::RecordCheck(size_t i, CheckOutcome outcome, std::string_view detail,
                                     std::chrono::system_clock::time_point now) {
  Entry* e = At(i);
  if (e == nullptr || outcome >= CheckOutcome::kCount) return;
  const bool ok = outcome == CheckOutcome::kOk;
  {
    std::lock_guard<std::mutex> lock(e->text_mu);
    e->last_check.store(static_cast<uint8_t>(outcome), std::memory_order_relaxed);
    e->last_check_ns.store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count(),
        std::memory_order_relaxed);
    e->checked.store(true, std::memory_order_relaxed);
    e->last_check_detail.assign(ok ? std::string_view() : Bounded(detail));
    if (!ok) e->last_failure.assign(Bounded(detail));
  }
  Apply(i, *e, ok, Bounded(detail), StateChange::Source::kCheck);
}

void BackendHealthTable::RecordPassive(size_t i, bool ok, std::string_view detail) {
  Entry* e = At(i);
  if (e == nullptr) return;
  if (!ok) {
    std::lock_guard<std::mutex> lock(e->text_mu);
    e->last_failure.assign(Bounded(detail));
  }
  Apply(i, *e, ok, Bounded(detail), StateChange::Source::kLogin);
}

void BackendHealthTable::Apply(size_t i, Entry& e, bool ok, std::string_view detail,
                               StateChange::Source source) {
  uint32_t word = e.updown.load(std::memory_order_acquire);
  for (;;) {
    const UpDownState before = Unpack(word);
    const UpDownState after = NextState(before, ok, policy_);
    if (after == before) return;  // steady state: no write, no cache-line bounce
    if (!e.updown.compare_exchange_weak(word, Pack(after), std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
      continue;  // another thread recorded a result first: apply ours on top of it
    }
    if (before.up && !after.up) e.unusable_epoch.fetch_add(1, std::memory_order_acq_rel);
    if (after.up != before.up && on_change_) {
      const std::string shard = ShardOf(e);
      StateChange c;
      c.shard = shard;
      c.from = before.up ? "up" : "down";
      c.to = after.up ? "up" : "down";
      c.backend = i;
      c.name = e.name;
      c.kind = after.up ? StateChange::Kind::kUp : StateChange::Kind::kDown;
      c.source = source;
      if (!after.up) c.reason = detail;
      on_change_(c);
    }
    return;
  }
}

bool BackendHealthTable::SetDraining(size_t i, bool draining) {
  Entry* e = At(i);
  if (e == nullptr) return false;
  if (e->draining.exchange(draining, std::memory_order_acq_rel) == draining) return false;
  if (draining) e->unusable_epoch.fetch_add(1, std::memory_order_acq_rel);
  if (on_change_) {
    const std::string shard = ShardOf(*e);
    const char* health = Unpack(e->updown.load(std::memory_order_acquire)).up ? "up" : "down";
    StateChange c;
    c.shard = shard;
    c.from = draining ? health : "draining";
    c.to = draining ? "draining" : health;
    c.backend = i;
    c.name = e->name;
    c.kind = draining ? StateChange::Kind::kDraining : StateChange::Kind::kUndrained;
    c.source = StateChange::Source::kOperator;
    on_change_(c);
  }
  return true;
}

void BackendHealthTable::SessionStarted(size_t i) {
  if (Entry* e = At(i)) e->sessions.fetch_add(1, std::memory_order_relaxed);
}

void BackendHealthTable::SessionEnded(size_t i) {
  if (Entry* e = At(i)) e->sessions.fetch_sub(1, std::memory_order_relaxed);
}

std::optional<size_t> FirstUsable(const BackendHealthTable& table, std::span<const size_t> order,
                                  size_t from) {
  for (size_t pos = from; pos < order.size(); ++pos) {
    if (table.IsUsable(order[pos])) return pos;
  }
  return std::nullopt;
}

}  // namespace imapgate::health
