#include "server/worker.h"

#include "auth/auth_step.h"
#include "common/log.h"
#include "route/normalize.h"

namespace imapgate::server {
namespace {
// The shared read buffer of a worker: every read of every session lands here first.
constexpr size_t kScratchBytes = 64 * 1024;
}  // namespace

StatusOr<std::unique_ptr<Worker>> Worker::Create(WorkerOptions options) {
  if (!options.generation) return InvalidArgument("worker: no configuration generation");
  if (!options.listen_fds.empty() &&
      options.listen_fds.size() != options.generation->listeners.size()) {
    return InvalidArgument("worker: one listening socket per listener expected");
  }
  std::unique_ptr<Worker> w(new Worker(std::move(options)));
  const WorkerOptions& o = w->options_;
  auto loop = net::EventLoop::Create();
  if (!loop.ok()) return loop.status();
  w->loop_ = std::move(*loop);
  w->scratch_.resize(kScratchBytes);
  w->context_.loop = w->loop_.get();
  w->context_.metrics = o.metrics;
  w->context_.time = o.time;
  w->context_.generation = std::move(w->options_.generation);  // only the context holds it
  w->context_.scratch = w->scratch_.data();
  w->context_.scratch_size = w->scratch_.size();
  w->context_.id_prefix = o.id_prefix;
  w->context_.registry = o.registry;
  w->context_.status = o.status;
  const config::ConfigPtr& config = w->context_.generation->config;  // null in some tests
  const config::WarmConnectionsConfig warm = config ? config->warm_connections : config::WarmConnectionsConfig{};
  if (warm.per_backend > 0) {
    auto pool = upstream::WarmPool::Create(w->loop_.get(), o.time, upstream::WarmPoolOptions{warm.per_backend, warm.max_age});
    if (!pool.ok()) return pool.status();
    w->warm_pool_ = std::move(*pool);
    w->context_.warm_pool = w->warm_pool_.get();
    Worker* self = w.get();
    w->loop_->Post([self] { self->WarmTargets(*self->context_.generation); });
  }
  if (Status st = w->BuildAuth(); !st.ok()) return st;
  if (Status st = w->BuildAbuse(); !st.ok()) return st;
  Worker* raw = w.get();
  w->context_.on_session_done = [raw](session::Session* s) { raw->OnSessionDone(s); };
  for (size_t i = 0; i < o.listen_fds.size(); ++i) {
    auto listener =
        net::Listener::Create(w->loop_.get(), o.listen_fds[i],
                              [raw, i](net::UniqueFd client, const net::SocketAddress& peer) {
                                raw->Accept(i, std::move(client), peer);
                              });
    if (!listener.ok()) return listener.status();
    w->listeners_.push_back(std::move(*listener));
  }
  return w;
}

Worker::~Worker() {
  Join();
  listeners_.clear();
  sessions_.clear();  // closes every socket this worker still holds
  warm_pool_.reset(); // its connections and timers live on the loop
  context_.auth.reset();  // its HTTP connections and the steps live on the loop too
  context_.abuse.reset();
  abuse_store_.reset();   // a fleet store's connection lives on the loop
  loop_.reset();      // runs deferred deletions first
}

void Worker::StartThread() {
  thread_ = std::thread([this] { loop_->Run(); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::BeginDrain() {
  loop_->Post([this] {
    draining_ = true;
    for (auto& l : listeners_) l->Pause();
  });
}

void Worker::KickWhere(std::function<bool(const session::Session&)> match, std::string text) {
  loop_->Post([this, match = std::move(match), text = std::move(text)] {
    std::vector<session::Session*> chosen;
    for (auto& [raw, owned] : sessions_) {
      if (raw->relaying() && match(*raw)) chosen.push_back(raw);
    }
    for (session::Session* s : chosen) s->Kick(text.c_str());
  });
}

void Worker::OnFleetNotice(const abuse::FleetNotice& notice) {
  // Another instance (or another worker's admin call) kicked or moved the user: end the user's
  // relayed sessions here. Names compare as the router normalizes them.
  auto router = context_.generation->pool.router;
  if (!router) return;
  if (notice.kind == abuse::FleetNotice::Kind::kMove && context_.generation->pool.moves) {
    context_.generation->pool.moves->Set(notice.user, notice.shard);  // the same table for every worker
  }
  std::vector<session::Session*> chosen;
  for (auto& [raw, owned] : sessions_) {
    if (!raw->relaying()) continue;
    std::optional<std::string> n = route::NormalizedUser(raw->user(), router->default_domain());
    if ((n ? *n : raw->user()) == notice.user) chosen.push_back(raw);
  }
  const char* text = notice.kind == abuse::FleetNotice::Kind::kMove ? "Your mailbox is moving, please reconnect"
                                                                      : "Disconnected by the administrator";
  for (session::Session* s : chosen) s->Kick(text);
  if (!chosen.empty()) {
    LogEvent(LogLevel::kInfo, "fleet_kick")
        .Add("user", notice.user)
        .Add("kind", notice.kind == abuse::FleetNotice::Kind::kMove ? "move" : "kick")
        .Add("sessions", static_cast<uint64_t>(chosen.size()));
  }
}

void Worker::WarmTargets(const Generation& g) {
  std::vector<upstream::WarmTarget> targets;
  for (const login::PoolBackend& b : g.pool.backends) {
    if (b.target.send_proxy_v2) continue;  // the PROXY header is per client: no warm connection
    targets.push_back(upstream::WarmTarget{b.target, b.health});
  }
  warm_pool_->SetTargets(std::move(targets), g.pool.health.get());
}

void Worker::Stop() {
  loop_->Post([this] {
    draining_ = true;
    for (auto& l : listeners_) l->Pause();
    std::vector<session::Session*> all;
    for (auto& [raw, owned] : sessions_) all.push_back(raw);
    for (session::Session* s : all) s->Shutdown();
    loop_->Stop();
  });
}

void Worker::SetGeneration(GenerationPtr generation) {
  if (!generation) return;
  loop_->Post([this, generation = std::move(generation)]() mutable {
    context_.generation = std::move(generation);
    if (warm_pool_) WarmTargets(*context_.generation);
    if (Status st = BuildAuth(); !st.ok()) {
      // The worker keeps the previous generation's auth runtime (sessions log in as before).
      LogEvent(LogLevel::kError, "auth_runtime_failed").Add("error", st.message());
    }
    if (Status st = BuildAbuse(); !st.ok()) {
      LogEvent(LogLevel::kError, "abuse_runtime_failed").Add("error", st.message());
    }
  });
}

Status Worker::BuildAbuse() {
  const GenerationPtr& g = context_.generation;
  if (!g->abuse || !options_.abuse) return Status::Ok();  // unit tests build generations without it
  if (!abuse_store_) {
    auto store = options_.abuse->StoreFor(loop_.get(), [this](const abuse::FleetNotice& n) { OnFleetNotice(n); });
    if (!store.ok()) return store.status();
    abuse_store_ = std::move(*store);
  }
  auto built = abuse::WorkerAbuse::Create(loop_.get(), context_.time, context_.metrics, options_.abuse, g->abuse,
                                         abuse_store_.get());
  if (!built.ok()) return built.status();
  context_.abuse = std::move(*built);
  return Status::Ok();
}

Status Worker::BuildAuth() {
  const GenerationPtr& g = context_.generation;
  if (!g->auth) return Status::Ok();  // unit tests build generations without an auth plan
  auto built = auth::WorkerAuth::Create(loop_.get(), context_.time, &context_.tickets, context_.metrics, g->auth,
                                        &g->pool, g);
  if (!built.ok()) return built.status();
  context_.auth = std::move(*built);
  return Status::Ok();
}

void Worker::SetSessionCap(size_t max_sessions) {
  loop_->Post([this, max_sessions] {
    options_.max_sessions = max_sessions;
    UpdateAccepting();
  });
}

void Worker::Accept(size_t listener, net::UniqueFd fd, const net::SocketAddress& peer) {
  const Generation& g = *context_.generation;
  if (listener >= g.listeners.size()) return;  // a listener this generation no longer has: close
  auto s = session::Session::Create(&context_, &g.listeners[listener].context, std::move(fd), peer);
  if (!s.ok()) {
    LogEvent(LogLevel::kError, "session_create_failed").Add("error", s.status().message());
    return;
  }
  session::Session* raw = s->get();
  sessions_.emplace(raw, std::move(*s));
  active_.store(sessions_.size(), std::memory_order_relaxed);
  UpdateAccepting();
  raw->Start();
}

void Worker::OnSessionDone(session::Session* s) {
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return;
  session::Session* raw = it->second.release();
  sessions_.erase(it);
  active_.store(sessions_.size(), std::memory_order_relaxed);
  loop_->Defer([raw] { delete raw; });  // never inside the session's own callback; no lock
  UpdateAccepting();
}

void Worker::UpdateAccepting() {
  if (draining_) return;
  bool full = sessions_.size() >= options_.max_sessions;
  if (full == accept_paused_) return;
  accept_paused_ = full;
  for (auto& l : listeners_) full ? l->Pause() : l->Resume();
  uint64_t repeats = 0;
  if (full && cap_log_.Allow(std::chrono::steady_clock::now(), &repeats)) {
    // The cap is min(max_sessions_per_worker, what the descriptor limit allows); see the started
    // line.
    LogEvent(LogLevel::kWarn, "accept_paused")
        .Add("reason", "session cap reached")
        .Add("worker", options_.index)
        .Add("session_cap", static_cast<uint64_t>(options_.max_sessions))
        .Add("repeats_since_last_line", repeats);
  }
}

}  // namespace imapgate::server
