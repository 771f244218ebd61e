#include "server/admin_control_impl.h"

#include "abuse/abuse_services.h"

#include "common/log.h"
#include "common/version.h"
#include "route/normalize.h"
#include "server/server.h"

namespace imapgate::server {
namespace {

const char* SecurityName(upstream::BackendSecurityMode mode) {
  switch (mode) {
    case upstream::BackendSecurityMode::kTls: return "tls";
    case upstream::BackendSecurityMode::kStartTls: return "starttls";
    default: return "plaintext";
  }
}

admin::BackendInfo Row(const login::BackendPool& pool, const login::PoolBackend& b) {
  admin::BackendInfo info;
  info.name = b.name;
  info.shard = pool.shards[b.shard].name;
  info.address = b.target.address.ToString();
  info.security = SecurityName(b.target.security);
  if (!pool.health) return info;
  health::BackendStatus st = pool.health->Snapshot(b.health);
  info.state = st.draining ? admin::BackendState::kDraining : st.up ? admin::BackendState::kUp : admin::BackendState::kDown;
  info.active_sessions = st.active_sessions > 0 ? static_cast<uint64_t>(st.active_sessions) : 0;
  if (st.checked) {
    admin::HealthCheckResult check;
    check.ok = st.last_check == health::CheckOutcome::kOk;
    check.detail = check.ok ? "ok" : st.last_check_detail;
    check.at_unix_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(st.last_check_time.time_since_epoch()).count();
    info.last_check = check;
  }
  return info;
}

// The user as the router sees it (lowercase, default domain); the raw name when it cannot be.
std::string Normalized(std::string_view user, const login::BackendPool& pool) {
  std::optional<std::string> n = route::NormalizedUser(user, pool.router->default_domain());
  return n ? *n : std::string(user);
}

}  // namespace

std::vector<admin::BackendInfo> ServerAdminControl::Backends() {
  const login::BackendPool& pool = server_->generation_->pool;
  std::vector<admin::BackendInfo> rows;
  for (const login::PoolBackend& b : pool.backends) rows.push_back(Row(pool, b));
  return rows;
}

std::vector<admin::SessionInfo> ServerAdminControl::Sessions(std::optional<std::string_view> user,
                                                             size_t max_sessions, bool* truncated) {
  const login::BackendPool& pool = server_->generation_->pool;
  std::optional<std::string> wanted;
  if (user) wanted = Normalized(*user, pool);
  std::vector<admin::SessionInfo> out;
  *truncated = false;
  server_->registry_.ForEach([&](const session::SessionRecord& r) {
    if (wanted && Normalized(r.user, pool) != *wanted) return;
    if (out.size() >= max_sessions) {
      *truncated = true;
      return;
    }
    admin::SessionInfo s;
    s.id = r.id;
    s.user = r.user;
    s.client_address = r.client_address;
    s.backend = r.backend;
    s.started_unix_seconds = r.started_unix_seconds;
    s.bytes_from_client = r.bytes.client_to_backend.load(std::memory_order_relaxed);
    s.bytes_to_client = r.bytes.backend_to_client.load(std::memory_order_relaxed);
    out.push_back(std::move(s));
  });
  return out;
}

StatusOr<admin::RouteInfo> ServerAdminControl::Route(std::string_view user) {
  const login::BackendPool& pool = server_->generation_->pool;
  route::RouteDecision d = pool.router->Route(user);
  if (!d.ok()) return InvalidArgument("cannot route '" + std::string(user) + "': " + std::string(route::ErrorName(d.error)));
  // A runtime move wins, as in the login (login/backend_login_step.cc).
  if (pool.moves) {
    if (std::optional<std::string> moved = pool.moves->Find(Normalized(user, pool))) {
      if (route::RouteDecision m = pool.router->RouteMoved(*moved); m.ok()) d = m;
    }
  }
  const login::PoolShard& shard = pool.shards[d.shard];
  admin::RouteInfo info;
  info.user = Normalized(user, pool);
  info.shard = shard.name;
  info.source = std::string(route::SourceName(d.source));
  std::optional<size_t> pos = pool.health ? health::FirstUsable(*pool.health, shard.health_order)
                                          : std::optional<size_t>(0);
  const std::string& primary = pool.backends[shard.backends[0]].name;
  if (!pos) {
    info.reason = "no backend of " + shard.name + " can take a login now (all down or draining)";
    return info;
  }
  info.backend = pool.backends[shard.backends[*pos]].name;
  if (*pos == 0) {
    info.reason = "primary " + primary;
  } else {
    bool draining = pool.health && pool.health->IsDraining(shard.health_order[0]);
    info.reason = "primary " + primary + (draining ? " draining" : " down") + ", replica " + info.backend;
  }
  return info;
}

StatusOr<admin::BackendInfo> ServerAdminControl::Describe(std::string_view backend) {
  const login::BackendPool& pool = server_->generation_->pool;
  const login::PoolBackend* b = pool.FindBackend(backend);
  if (b == nullptr) return Status(StatusCode::kNotFound, "no backend named '" + std::string(backend) + "'");
  return Row(pool, *b);
}

void ServerAdminControl::EndSessionsOn(const std::string& backend) {
  for (auto& w : server_->workers_) {
    w->KickWhere([backend](const session::Session& s) { return s.backend_name() == backend; },
                 "Backend is being drained for maintenance, please reconnect");
  }
}

StatusOr<admin::BackendInfo> ServerAdminControl::Drain(std::string_view backend,
                                                       std::optional<std::chrono::seconds> grace) {
  const login::BackendPool& pool = server_->generation_->pool;
  const login::PoolBackend* b = pool.FindBackend(backend);
  if (b == nullptr || !pool.health) {
    return Status(StatusCode::kNotFound, "no backend named '" + std::string(backend) + "'");
  }
  std::chrono::milliseconds wait =
      grace ? std::chrono::milliseconds(*grace) : server_->generation_->config->timeouts.drain_grace;
  pool.health->SetDraining(b->health, true);
  std::string name = b->name;
  auto timer = net::Timer::Create(server_->main_loop_.get(), [this, name] {
    LogEvent(LogLevel::kInfo, "backend_drain_grace_over").Add("backend", name);
    EndSessionsOn(name);
  });
  if (!timer.ok()) return timer.status();
  (*timer)->Arm(wait);
  drain_timers_[name] = std::move(*timer);  // replaces (cancels) an earlier drain's timer
  LogEvent(LogLevel::kInfo, "backend_drain")
      .Add("backend", name)
      .Add("grace_s", static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(wait).count()));
  return Describe(name);
}

StatusOr<admin::BackendInfo> ServerAdminControl::Undrain(std::string_view backend) {
  const login::BackendPool& pool = server_->generation_->pool;
  const login::PoolBackend* b = pool.FindBackend(backend);
  if (b == nullptr || !pool.health) {
    return Status(StatusCode::kNotFound, "no backend named '" + std::string(backend) + "'");
  }
  pool.health->SetDraining(b->health, false);
  if (auto it = drain_timers_.find(b->name); it != drain_timers_.end()) drain_timers_.erase(it);
  LogEvent(LogLevel::kInfo, "backend_undrain").Add("backend", b->name);
  return Describe(b->name);
}

StatusOr<uint64_t> ServerAdminControl::Kick(std::string_view user) {
  return EndSessionsOf(user, abuse::FleetNotice::Kind::kKick, "");
}

StatusOr<uint64_t> ServerAdminControl::MoveUser(std::string_view user, std::string_view shard) {
  const login::BackendPool& pool = server_->generation_->pool;
  bool known = false;
  for (const login::PoolShard& s : pool.shards) known |= s.name == shard;
  if (!known) return Status(StatusCode::kNotFound, "no shard named \"" + std::string(shard) + "\"");
  const std::string wanted = Normalized(user, pool);
  if (!server_->moves_->Set(wanted, std::string(shard))) {
    return Status(StatusCode::kResourceExhausted, "too many users moved at runtime; write them to the override file "
                                                  "and restart");
  }
  LogEvent(LogLevel::kInfo, "admin_move").Add("user", wanted).Add("shard", shard);
  return EndSessionsOf(user, abuse::FleetNotice::Kind::kMove, shard);
}

StatusOr<uint64_t> ServerAdminControl::EndSessionsOf(std::string_view user, abuse::FleetNotice::Kind kind,
                                                     std::string_view shard) {
  const login::BackendPool& pool = server_->generation_->pool;
  std::string wanted = Normalized(user, pool);
  uint64_t count = 0;
  server_->registry_.ForEach([&](const session::SessionRecord& r) {
    if (Normalized(r.user, pool) == wanted) ++count;
  });
  auto router = pool.router;  // keeps the normalization's default domain alive in the workers
  const bool move = kind == abuse::FleetNotice::Kind::kMove;
  for (auto& w : server_->workers_) {
    w->KickWhere(
        [router, wanted](const session::Session& s) {
          std::optional<std::string> n = route::NormalizedUser(s.user(), router->default_domain());
          return (n ? *n : s.user()) == wanted;
        },
        move ? "Your mailbox is moving, please reconnect" : "Disconnected by the administrator");
  }
  // The rest of a fleet (store: redis) does the same on its instances; `count` is this one's.
  const bool fleet = server_->admin_abuse_store_->PublishToFleet(abuse::FleetNotice{kind, wanted, std::string(shard)});
  LogEvent(LogLevel::kInfo, move ? "admin_move_kick" : "admin_kick")
      .Add("user", wanted)
      .Add("sessions", count)
      .Add("fleet", fleet ? "yes" : "no");
  return count;
}

StatusOr<uint64_t> ServerAdminControl::RevokeAppPassword(std::string_view user, std::string_view name) {
  const login::BackendPool& pool = server_->generation_->pool;
  const std::string wanted = Normalized(user, pool);
  bool found = false;
  for (const auto& store : server_->auth_->Stores()) {
    auth::UsersStore::Snapshot snap = store->Get();
    const auth::UserRecord* record = snap.db ? snap.db->Find(wanted) : nullptr;
    if (record == nullptr) continue;
    for (const auth::AppPassword& app : record->app_passwords) {
      if (app.name != name) continue;
      server_->auth_->RevokeAppPassword(wanted, app.name, app.hash.encoded);
      found = true;
    }
  }
  if (!found) return Status(StatusCode::kNotFound, "no app password named " + std::string(name) + " for " + wanted);
  uint64_t count = 0;
  server_->registry_.ForEach([&](const session::SessionRecord& r) {
    if (r.app_password == name && Normalized(r.user, pool) == wanted) ++count;
  });
  auto router = pool.router;
  const std::string device(name);
  for (auto& w : server_->workers_) {
    w->KickWhere(
        [router, wanted, device](const session::Session& s) {
          std::optional<std::string> n = route::NormalizedUser(s.user(), router->default_domain());
          return (n ? *n : s.user()) == wanted && s.app_password() == device;
        },
        "App password revoked");
  }
  LogEvent(LogLevel::kInfo, "app_password_revoked")
      .Add("user", wanted)
      .Add("app_password", device)
      .Add("detail", "refused until a restart: remove it from the users file");
  return count;
}

Status ServerAdminControl::Reload() { return server_->Reload("api"); }

StatusOr<admin::StatusInfo> ServerAdminControl::StatusReport() {
  admin::StatusInfo s;
  s.version = IMAPGATE_VERSION;
  s.started_unix_seconds = server_->started_unix_;
  s.config_loaded_unix_seconds = server_->config_loaded_unix_;
  s.now_unix_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(server_->time_->WallNow().time_since_epoch()).count();
  s.draining = server_->draining_.load();
  s.counts = server_->status_board_.Counts();
  const admin::RefusalRing& ring = server_->status_board_.refusals();
  s.refusals = ring.Recent();
  s.refusals_total = ring.total();
  s.refusals_capacity = ring.capacity();
  const GenerationPtr& g = server_->generation_;
  s.config_loaded = g != nullptr && g->config != nullptr;
  if (g == nullptr) return s;
  // Every listener was bound in Create(); the workers serve them once running (the admin
  // endpoint answers from the main loop, which runs after the workers started).
  s.listeners_bound = !server_->workers_.empty() && server_->listen_fds_.size() == g->listeners.size();
  for (const ListenerSpec& l : g->listeners) {
    admin::ListenerInfo info;
    info.name = l.context.name;
    info.address = l.endpoint;
    info.mode = ListenerModeName(l.mode);
    info.tls = true;  // implicit TLS or STARTTLS: every listener has a certificate
    info.proxy_protocol = l.context.proxy_protocol;
    s.listeners.push_back(std::move(info));
  }
  const login::BackendPool& pool = g->pool;
  for (const login::PoolShard& shard : pool.shards) {
    admin::ShardInfo info;
    info.name = shard.name;
    for (size_t index : shard.backends) info.backends.push_back(Row(pool, pool.backends[index]));
    s.shards.push_back(std::move(info));
  }
  return s;
}

}  // namespace imapgate::server
