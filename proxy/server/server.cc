#include "server/server.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include "common/log.h"
#include "common/time_source.h"
#include "common/version.h"
#include "server/config_checks.h"
#include "server/process.h"
#include "server/reload.h"
#include "route/normalize.h"

namespace imapgate::server {
namespace {

int WorkerCount(const config::Config& c) {
  if (c.workers > 0) return c.workers;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

std::string RandomIdPrefix() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06x", rd() & 0xffffff);
  return buf;
}

std::string ListenerWhat(const ListenerSpec& l) {
  return "listener '" + l.context.name + "' on " + l.endpoint;
}

double UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

int64_t WholeUnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string AdminWhat(const config::Config& c) {
  return "admin listener on " + c.admin.address.host + ":" + std::to_string(c.admin.address.port);
}

// The admin API's bearer token, from the config's admin.token_file; none configured refuses
// every change.
admin::AdminToken AdminTokenOf(const config::Config& c) {
  if (!c.admin.token) return admin::AdminToken();
  auto token = admin::AdminToken::FromString(c.admin.token->view());
  if (!token.ok()) {  // the config loader checks the same rules: not expected
    LogEvent(LogLevel::kError, "admin_token_refused").Add("error", token.status().message());
    return admin::AdminToken();
  }
  return std::move(*token);
}

// "shard-a=a1@127.0.0.1:11143,a2@127.0.0.1:11144 shard-b=b1@127.0.0.1:11145": each shard with
// its backends in failover order and their addresses, for the start-up and reload lines.
std::string ShardSummary(const login::BackendPool& pool) {
  std::string out;
  for (const login::PoolShard& shard : pool.shards) {
    if (!out.empty()) out += " ";
    out += shard.name + "=";
    for (size_t i = 0; i < shard.backends.size(); ++i) {
      if (i > 0) out += ",";
      const login::PoolBackend& b = pool.backends[shard.backends[i]];
      out += b.name + "@" + b.target.address.ToString();
    }
  }
  return out;
}

// The metrics a configuration generation decides (issue E): each listener's certificate notAfter
// and the sessions limit. At start-up and after each successful reload.
void PublishGenerationMetrics(const Generation& g, stats::Metrics& metrics, int workers, size_t session_cap) {
  for (size_t i = 0; i < g.listeners.size() && i < g.server_tls.size(); ++i) {
    metrics.SetCertificateNotAfter(g.listeners[i].context.index,
                                   static_cast<double>(g.server_tls[i]->not_after_unix_seconds()));
  }
  const config::Config& c = *g.config;
  const uint64_t total = c.abuse.enabled ? c.abuse.connections.max_total : 0;
  metrics.SetSessionsLimit(static_cast<int64_t>(SessionsLimit(workers, session_cap, total)));
}

// Names each backend's shard in the health table, for its backend_state lines.
void LabelShards(const login::BackendPool& pool) {
  if (!pool.health) return;
  for (const login::PoolBackend& b : pool.backends) pool.health->SetShard(b.health, pool.shards[b.shard].name);
}

// The log level and format of `c` (start-up and reload).
void ApplyLogSettings(const config::Config& c) {
  LogLevel level = LogLevel::kInfo;
  if (ParseLogLevel(c.log_level, &level)) SetLogLevel(level);
  LogFormat format = LogFormat::kLogfmt;
  if (ParseLogFormat(c.log_format, &format)) SetLogFormat(format);
}

}  // namespace

CheckReport CheckConfigResources(const config::ConfigPtr& config) {
  CheckReport report;
  auto g = BuildGeneration(config, nullptr, 0);
  if (!g.ok()) {
    report.errors = g.status().message();
    return report;
  }
  auto add = [&](const BindVerdict& v) {
    if (v.message.empty()) return;
    if (v.error) {
      report.errors += (report.errors.empty() ? "" : "\n") + v.message;
    } else {
      report.warnings.push_back(v.message);
    }
  };
  for (const ListenerSpec& l : (*g)->listeners)
    add(ClassifyBindProbe(ListenerWhat(l), net::ProbeBind(l.address)));
  const config::Config& c = *config;
  if (c.admin.address.port != 0) {
    auto addr = net::ResolveAddress(c.admin.address.host, c.admin.address.port);
    if (!addr.ok()) {
      add({true, AdminWhat(c) + ": " + addr.status().message()});
    } else {
      add(ClassifyBindProbe(AdminWhat(c), net::ProbeBind(*addr)));
    }
  }
  StatusOr<Identity> target = InvalidArgument("no user");
  if (!c.process.user.empty()) {
    target = ResolveIdentity(c.process);
    if (!target.ok()) add({true, target.status().message()});
  }
  if (c.process.user.empty() || target.ok()) {
    std::string warning;
    auto action = DecideIdentity(c.process, geteuid(), target.ok() ? &*target : nullptr, &warning);
    if (!action.ok()) add({true, action.status().message()});
    if (!warning.empty()) report.warnings.push_back(warning);
  }
  if (!c.log_file.empty()) {  // opened for appending at start-up (not created by the check)
    const bool exists = access(c.log_file.c_str(), F_OK) == 0;
    const std::string target = exists ? c.log_file : c.log_file.substr(0, c.log_file.find_last_of('/') + 1);
    if (access(target.c_str(), W_OK) != 0) {
      add({true, "log_file '" + c.log_file + "': " + (exists ? "the file" : "its directory") +
                     " is not writable: " + std::strerror(errno)});
    }
  }
  for (std::string& w : ConfigWarnings(c)) report.warnings.push_back(std::move(w));
  return report;
}

StatusOr<std::unique_ptr<Server>> Server::Create(config::ConfigPtr config) {
  std::unique_ptr<Server> s(new Server());
  s->config_ = std::move(config);
  s->started_unix_ = WholeUnixSeconds(s->time_->WallNow());
  const config::Config& c = *s->config_;
  ApplyLogSettings(c);
  signal(SIGPIPE, SIG_IGN);
  // Opened while still privileged (the file may be in a root-owned directory); a reopen after the
  // privilege drop (SIGUSR1) runs as the run user: see log_file in conf/imapgate.yaml.
  if (!c.log_file.empty()) {
    if (Status st = OpenLogDestination(c.log_file); !st.ok()) return st;
  }
  net::EventLoop::RouteLibeventLogs();
  if (Status st = net::InitEventThreading(); !st.ok()) return st;

  s->descriptor_limit_ = RaiseDescriptorLimit();
  const int workers = WorkerCount(c);
  s->session_cap_ =
      SessionCapFromDescriptors(s->descriptor_limit_, workers, c.limits.max_sessions_per_worker);
  if (s->session_cap_ == 0) {
    return Status(StatusCode::kResourceExhausted,
                  "the descriptor limit (" + std::to_string(s->descriptor_limit_) +
                      ") is too low for " + std::to_string(workers) +
                      " workers: raise it (ulimit -n, LimitNOFILE=) or lower 'workers'");
  }

  std::vector<std::string> listener_names;
  for (const auto& l : c.listeners) listener_names.push_back(l.name);
  auto metrics = stats::Metrics::Create(listener_names, c.backend.name, IMAPGATE_VERSION);
  if (!metrics.ok()) return metrics.status();
  s->metrics_ = std::move(*metrics);
  s->metrics_->SetStartTime(UnixSeconds(s->time_->WallNow()));

  health::HealthPolicy policy;
  policy.rise = c.health_checks.rise;
  policy.fall = c.health_checks.fall;
  s->health_ = std::make_shared<health::BackendHealthTable>(policy);
  auth::AuthServicesOptions auth_options;
  auth_options.pool.threads = c.auth.hash_threads;
  auth_options.pool.max_queued = c.auth.hash_queue;
  auth_options.cache_ttl = c.auth.cache_ttl;
  auth_options.cache_max_entries = c.auth.cache_max_entries;
  auto auth_services = auth::AuthServices::Create(auth_options);
  if (!auth_services.ok()) return auth_services.status();
  s->auth_ = std::move(*auth_services);
  auto abuse_services = abuse::AbuseServices::Create(c.abuse, s->time_, s->metrics_.get());
  if (!abuse_services.ok()) return abuse_services.status();
  s->abuse_ = std::move(*abuse_services);
  auto generation = BuildGeneration(s->config_, s->metrics_.get(), 1, s->health_, s->auth_, s->moves_);
  if (!generation.ok()) return generation.status();
  s->generation_ = *generation;
  LabelShards(s->generation_->pool);
  s->warnings_ = ConfigWarnings(c);
  s->metrics_->ConfigLoaded(UnixSeconds(s->time_->WallNow()));
  PublishGenerationMetrics(*s->generation_, *s->metrics_, workers, s->session_cap_);
  s->config_loaded_unix_ = WholeUnixSeconds(s->time_->WallNow());

  if (Status st = s->BindListeners(); !st.ok()) return st;
  auto loop = net::EventLoop::Create();
  if (!loop.ok()) return loop.status();
  s->main_loop_ = std::move(*loop);
  if (Status st = s->CreateAdminAndSignals(); !st.ok()) return st;
  if (Status st = s->StartHealthChecks(); !st.ok()) return st;
  // Everything that needs root is done: listeners bound, keys loaded. No thread runs yet.
  if (Status st = ApplyProcessIdentity(c.process); !st.ok()) return st;
  if (Status st = HardenProcess(); !st.ok()) return st;
  if (Status st = s->auth_->StartPool(); !st.ok()) return st;  // the hash threads, unprivileged
  // The admin API's handle on the abuse store (a fleet store's thread, unprivileged too).
  if (auto store = AdminAbuseStore::Create(s->abuse_.get(), std::chrono::milliseconds(1000)); store.ok()) {
    s->admin_abuse_store_ = std::move(*store);
  } else {
    return store.status();
  }
  if (Status st = s->CreateWorkers(s->session_cap_); !st.ok()) return st;
  return s;
}

Status Server::StartHealthChecks() {
  health_checker_.reset();  // a reload replaces the targets: cancel the old checks first
  stats::Metrics* metrics = metrics_.get();
  const health::BackendHealthTable* table = health_.get();
  const auth::AuthServices* auth = auth_.get();
  Server* self = this;  // admin_abuse_store_ is made after the privilege drop, before any scrape
  metrics_->SetCollectHook([metrics, table, auth, self] {
    stats::PublishBackendHealth(*table, *metrics);
    // Shards of the configuration in effect (generation_ changes on this same main loop: a reload).
    if (self->generation_) metrics->SetShardBackends(login::ShardBackendCounts(self->generation_->pool));
    metrics->SetHashPoolQueued(static_cast<int64_t>(auth->queued()));
    metrics->SetLogWriteFailures(LogWriteFailures());
    if (!self->admin_abuse_store_) return;
    if (auto blocked = self->admin_abuse_store_->BlockedCounts()) {
      metrics->SetAbuseBlocked("address", static_cast<int64_t>(blocked->first));
      metrics->SetAbuseBlocked("subnet", static_cast<int64_t>(blocked->second));
    }
  });
  const config::HealthCheckConfig& hc = generation_->config->health_checks;
  if (!hc.enabled) return Status::Ok();  // passive marks only
  upstream::HealthCheckOptions options;
  options.interval = hc.interval;
  options.timeout = hc.timeout;
  std::vector<upstream::HealthCheckTarget> targets;
  for (const login::PoolBackend& b : generation_->pool.backends) {
    targets.push_back(upstream::HealthCheckTarget{b.target, b.health});
  }
  auto checker = upstream::HealthChecker::Start(
      main_loop_.get(), &RealTimeSource::Get(), health_.get(), std::move(targets), options,
      [metrics, table](size_t index, health::CheckOutcome outcome) {
        StatusOr<int> label = metrics->BackendIndex(std::string(table->name(index)));
        if (label.ok()) metrics->HealthCheckFinished(*label, outcome);
      });
  if (!checker.ok()) return checker.status();
  health_checker_ = std::move(*checker);
  return Status::Ok();
}

Status Server::BindListeners() {
  for (const ListenerSpec& l : generation_->listeners) {
    // No SO_REUSEPORT: the one socket is shared by this process's workers, and another process
    // binding the same address gets EADDRINUSE (and so do we, if it was there first).
    auto fd = net::ListenOn(l.address, /*reuse_port=*/false);
    if (!fd.ok()) {
      const int err = net::ProbeBind(l.address);
      std::string hint =
          err == EADDRINUSE ? " (another process listens there; is another imapgate running?)" : "";
      return Status(fd.status().code(),
                    ListenerWhat(l) + ": cannot listen: " + fd.status().message() + hint);
    }
    // Before login a client that does not read may leave only this much unsent in the kernel
    // (our own queue has the same bound); accepted sockets inherit it, and the frontend lifts it
    // when it hands the connection to the relay.
    net::SetNotSentLowWatermark(fd->get(),
                                static_cast<unsigned>(l.context.frontend.max_queued_reply_bytes));
    listen_fds_.push_back(std::make_shared<const net::UniqueFd>(std::move(*fd)));
  }
  return Status::Ok();
}

Status Server::CreateAdminAndSignals() {
  const config::Config& c = *config_;
  if (c.admin.address.port != 0) {
    admin_control_ = std::make_unique<ServerAdminControl>(this);
    auto a = admin::AdminServer::Create(main_loop_.get(), c.admin.address.host, c.admin.address.port,
                                        metrics_.get(), [this] { return !draining_.load(); },
                                        admin_control_.get(), AdminTokenOf(c));
    if (!a.ok()) return Status(a.status().code(), AdminWhat(c) + ": " + a.status().message());
    admin_ = std::move(*a);
  }
  auto timer = net::Timer::Create(main_loop_.get(), [this] { PollDrain(); });
  if (!timer.ok()) return timer.status();
  drain_timer_ = std::move(*timer);

  // A users file that changes is loaded again; the sessions of a removed app password end.
  auto watcher = UsersFileWatcher::Start(
      main_loop_.get(), auth_, std::chrono::seconds(2),
      [this](std::set<std::pair<std::string, std::string>> revoked) {
        auto shared = std::make_shared<const std::set<std::pair<std::string, std::string>>>(std::move(revoked));
        const std::string default_domain = generation_->config->routing.default_domain;
        for (auto& w : workers_) {
          w->KickWhere(
              [shared, default_domain](const session::Session& s) {
                if (s.app_password().empty()) return false;
                std::optional<std::string> user = route::NormalizedUser(s.user(), default_domain);
                return user && shared->count({*user, s.app_password()}) > 0;
              },
              "App password revoked");
        }
      });
  if (!watcher.ok()) return watcher.status();
  users_watcher_ = std::move(*watcher);

  auto on_term = net::SignalWatcher::Create(main_loop_.get(), SIGTERM, [this] {
    if (draining_.exchange(true)) return;
    const auto grace = config_->timeouts.shutdown_grace;
    LogEvent(LogLevel::kInfo, "draining")
        .Add("grace_s", static_cast<int64_t>(grace.count() / 1000));
    drain_deadline_ = std::chrono::steady_clock::now() + grace;
    for (auto& w : workers_) w->BeginDrain();
    PollDrain();
  });
  auto on_int = net::SignalWatcher::Create(main_loop_.get(), SIGINT, [this] {
    draining_ = true;
    LogEvent(LogLevel::kInfo, "stopping");
    StopAll();
  });
  auto on_hup = net::SignalWatcher::Create(main_loop_.get(), SIGHUP, [this] { IgnoreStatus(Reload("sighup"), "Reload logs its own failure"); });
  // logrotate: the log file is opened again (the old one was renamed); on failure the old file
  // stays in use and says so.
  auto on_usr1 = net::SignalWatcher::Create(main_loop_.get(), SIGUSR1, [this] {
    const std::string file = config_->log_file;
    if (Status st = ReopenLogDestination(); !st.ok()) {
      LogEvent(LogLevel::kError, "log_reopen_failed").Add("file", file).Add("error", st.message());
      return;
    }
    LogEvent(LogLevel::kInfo, "log_reopened").Add("file", file.empty() ? std::string_view("stderr") : std::string_view(file));
  });
  if (!on_term.ok()) return on_term.status();
  if (!on_int.ok()) return on_int.status();
  if (!on_hup.ok()) return on_hup.status();
  if (!on_usr1.ok()) return on_usr1.status();
  signals_.push_back(std::move(*on_term));
  signals_.push_back(std::move(*on_int));
  signals_.push_back(std::move(*on_hup));
  signals_.push_back(std::move(*on_usr1));
  return Status::Ok();
}

Status Server::CreateWorkers(size_t session_cap) {
  const std::string prefix = RandomIdPrefix();
  const int count = WorkerCount(*config_);
  for (int i = 0; i < count; ++i) {
    WorkerOptions o;
    o.index = i;
    o.generation = generation_;
    o.listen_fds = listen_fds_;
    o.max_sessions = session_cap;
    o.metrics = metrics_.get();
    o.time = &RealTimeSource::Get();
    o.id_prefix = prefix + "-" + std::to_string(i) + "-";
    o.registry = &registry_;
    o.abuse = abuse_;
    o.status = &status_board_;
    auto w = Worker::Create(std::move(o));
    if (!w.ok()) return w.status();
    workers_.push_back(std::move(*w));
  }
  return Status::Ok();
}

Server::~Server() {
  users_watcher_.reset();  // its timer lives on main_loop_, which goes before it otherwise
  for (auto& w : workers_) w->Join();
  if (auth_) auth_->Shutdown();  // no hash job may post to a worker loop being destroyed
  workers_.clear();
  admin_.reset();
  admin_abuse_store_.reset();  // stops the fleet store's thread
  signals_.clear();
  drain_timer_.reset();
}

void Server::InstallGeneration(GenerationPtr generation) {
  generation_ = generation;
  if (generation->abuse) abuse_->connections().SetConfig(generation->abuse->connections);
  for (auto& w : workers_) w->SetGeneration(generation);
}

Status Server::Reload(std::string_view trigger) {
  const std::string file = config_->source_file;
  auto fail = [&](const Status& st) {
    metrics_->ConfigReloaded(false, 0);
    LogEvent(LogLevel::kError, "reload_failed")
        .Add("trigger", trigger)
        .Add("file", file)
        .Add("generation", generation_->id)
        .Add("detail", "the configuration in effect is unchanged")
        .Add("error", st.message());
    return st;
  };
  if (draining_.load()) return fail(Unavailable("shutting down: no reload while draining"));
  auto next = config::LoadConfigFile(file);
  if (!next.ok()) return fail(next.status());
  ReloadPlan plan = PlanReload(*config_, *next);
  const config::Config& c = *plan.effective;
  auto built = BuildGeneration(plan.effective, metrics_.get(), generation_->id + 1, health_, auth_, moves_);
  if (!built.ok()) return fail(built.status());
  const GenerationPtr& g = *built;
  // The workers map listening socket i to listener i of their generation.
  bool aligned = g->listeners.size() == listen_fds_.size() &&
                 g->listeners.size() == generation_->listeners.size();
  for (size_t i = 0; aligned && i < g->listeners.size(); ++i)
    aligned = g->listeners[i].context.name == generation_->listeners[i].context.name;
  if (!aligned) return fail(Internal("the new listeners do not match the listening sockets"));
  size_t cap = session_cap_;
  if (c.limits.max_sessions_per_worker != config_->limits.max_sessions_per_worker) {
    cap = SessionCapFromDescriptors(descriptor_limit_, static_cast<int>(workers_.size()),
                                    c.limits.max_sessions_per_worker);
    if (cap == 0) return fail(Internal("the descriptor limit allows no session per worker"));
  }

  // Valid: from here on nothing fails.
  ApplyLogSettings(c);
  if (c.log_file != config_->log_file) {
    SetLogDestinationPath(c.log_file);
    LogEvent(LogLevel::kInfo, "log_file_changed")
        .Add("from", config_->log_file.empty() ? std::string_view("stderr") : std::string_view(config_->log_file))
        .Add("to", c.log_file.empty() ? std::string_view("stderr") : std::string_view(c.log_file))
        .Add("detail", "takes effect at the next SIGUSR1");
  }
  for (const RestartNeeded& r : plan.needs_restart) {
    LogEvent e(LogLevel::kWarn, "reload_needs_restart");
    if (!r.listener.empty()) e.Add("listener", r.listener);
    e.Add("setting", r.setting).Add("detail", r.detail);
  }
  warnings_ = ConfigWarnings(c);
  for (const std::string& w : warnings_)
    LogEvent(LogLevel::kWarn, "config_warning").Add("detail", w);
  if (cap != session_cap_) {
    session_cap_ = cap;
    for (auto& w : workers_) w->SetSessionCap(cap);
  }
  config_ = plan.effective;
  LabelShards(g->pool);
  InstallGeneration(g);
  // The users files: a changed one goes in now (checked by BuildGeneration), with the kicks of the
  // app passwords it removed.
  if (users_watcher_) users_watcher_->CheckNow();
  if (Status st = StartHealthChecks(); !st.ok()) {
    LogEvent(LogLevel::kError, "health_checks_failed").Add("error", st.message());
  }
  metrics_->ConfigReloaded(true, UnixSeconds(time_->WallNow()));
  PublishGenerationMetrics(*g, *metrics_, static_cast<int>(workers_.size()), session_cap_);
  config_loaded_unix_ = WholeUnixSeconds(time_->WallNow());
  LogEvent(LogLevel::kInfo, "reload_ok")
      .Add("trigger", trigger)
      .Add("file", file)
      .Add("generation", g->id)
      .Add("shards", ShardSummary(g->pool))
      .Add("session_cap_per_worker", static_cast<uint64_t>(session_cap_))
      .Add("needs_restart", static_cast<uint64_t>(plan.needs_restart.size()));
  return Status::Ok();
}

void Server::StopAll() {
  for (auto& w : workers_) w->Stop();
  main_loop_->Stop();
}

// While draining, the main loop checks every 100 ms whether the workers' sessions are gone.
void Server::PollDrain() {
  size_t active = 0;
  for (auto& w : workers_) active += w->active_sessions();
  if (active == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
    LogEvent(LogLevel::kInfo, "shutdown").Add("sessions_closed", static_cast<uint64_t>(active));
    StopAll();
    return;
  }
  drain_timer_->Arm(std::chrono::milliseconds(100));
}

void Server::LogStarted() const {
  const config::Config& c = *config_;
  for (const std::string& w : warnings_)
    LogEvent(LogLevel::kWarn, "config_warning").Add("detail", w);
  std::string listeners;
  for (const ListenerSpec& l : generation_->listeners) {
    if (!listeners.empty()) listeners += ",";
    listeners += l.context.name + "=" + l.address.ToString() + "/" + ListenerModeName(l.mode);
  }
  LogEvent(LogLevel::kInfo, "started")
      .Add("version", IMAPGATE_VERSION)
      .Add("workers", static_cast<int64_t>(workers_.size()))
      .Add("listeners", listeners)
      .Add("shards", ShardSummary(generation_->pool))
      .Add("admin_port", static_cast<int64_t>(admin_ ? admin_->bound_port() : 0))
      .Add("uid", static_cast<int64_t>(getuid()))
      .Add("descriptor_limit", descriptor_limit_)
      .Add("session_cap_per_worker", static_cast<uint64_t>(session_cap_))
      .Add("max_sessions_per_worker", static_cast<uint64_t>(c.limits.max_sessions_per_worker));
}

int Server::Run() {
  for (auto& w : workers_) w->StartThread();
  LogStarted();
  main_loop_->Run();
  for (auto& w : workers_) w->Join();
  auth_->Shutdown();  // no hash job may post to a worker loop being destroyed
  users_watcher_.reset();
  workers_.clear();
  admin_.reset();
  admin_abuse_store_.reset();
  LogEvent(LogLevel::kInfo, "stopped");
  return 0;
}

int RunServer(config::ConfigPtr config) {
  int rc = 1;
  {
    auto server = Server::Create(std::move(config));
    if (!server.ok()) {
      LogEvent(LogLevel::kError, "startup_failed").Add("error", server.status().message());
    } else {
      rc = (*server)->Run();
    }
  }
  return rc;
}

}  // namespace imapgate::server
