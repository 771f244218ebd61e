#include "server/server.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "admin/admin_server.h"
#include "common/log.h"
#include "common/time_source.h"
#include "common/version.h"
#include "net/signal_watcher.h"
#include "net/timer.h"
#include "server/worker.h"
#include "stats/metrics.h"
#include "tls/tls_context.h"

namespace imapgate::server {
namespace {

upstream::BackendSecurityMode ToMode(config::BackendSecurity s) {
  switch (s) {
    case config::BackendSecurity::kTls: return upstream::BackendSecurityMode::kTls;
    case config::BackendSecurity::kStartTls: return upstream::BackendSecurityMode::kStartTls;
    default: return upstream::BackendSecurityMode::kPlaintext;
  }
}

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

// Everything the workers share, built once.
struct SharedState {
  std::vector<std::shared_ptr<tls::TlsServerContext>> server_tls;
  std::shared_ptr<tls::TlsClientContext> backend_tls;
  std::vector<ListenerSpec> listeners;
  upstream::BackendTarget backend;
};

StatusOr<std::unique_ptr<SharedState>> BuildShared(const config::Config& c) {
  auto shared = std::make_unique<SharedState>();
  std::string errors;
  int index = 0;
  for (const config::ListenerConfig& l : c.listeners) {
    auto ctx = tls::TlsServerContext::Create(l.tls.certificate, l.tls.key);
    if (!ctx.ok()) {
      errors += l.tls.location.ToString() + ": listener '" + l.name + "': " + ctx.status().message() + "\n";
      continue;
    }
    auto addr = net::ResolveAddress(l.address.host, l.address.port);
    if (!addr.ok()) {
      errors += l.tls.location.ToString() + ": listener '" + l.name + "': " + addr.status().message() + "\n";
      continue;
    }
    ListenerSpec spec;
    spec.address = *addr;
    spec.context.index = index++;
    spec.context.name = l.name;
    frontend::FrontendOptions& f = spec.context.frontend;
    f.implicit_tls = l.mode == config::ListenerMode::kImplicitTls;
    f.tls = ctx->get();
    f.parser.max_line_bytes = c.limits.max_command_line_bytes;
    f.parser.max_literal_bytes = c.limits.max_literal_bytes;
    f.max_preauth_bytes = c.limits.max_preauth_bytes;
    f.max_bad_commands = c.limits.max_bad_commands;
    f.max_auth_attempts = c.limits.max_auth_attempts;
    f.preauth_timeout = c.timeouts.preauth;
    f.tls_handshake_timeout = c.timeouts.tls_handshake;
    shared->server_tls.push_back(*ctx);
    shared->listeners.push_back(std::move(spec));
  }
  const config::BackendConfig& b = c.backend;
  upstream::BackendTarget& t = shared->backend;
  t.security = ToMode(b.security);
  t.label = b.address.host + ":" + std::to_string(b.address.port);
  t.server_name = b.tls_server_name.empty() ? b.address.host : b.tls_server_name;
  t.connect_timeout = c.timeouts.backend_connect;
  t.login_timeout = c.timeouts.backend_login;
  t.max_line_bytes = c.limits.backend_max_line_bytes;
  auto addr = net::ResolveAddress(b.address.host, b.address.port);
  if (!addr.ok()) {
    errors += c.source_file + ":0:0: backend: " + addr.status().message() + "\n";
  } else {
    t.address = *addr;
  }
  if (t.security != upstream::BackendSecurityMode::kPlaintext) {
    auto ctx = tls::TlsClientContext::Create(b.tls_ca_file, b.tls_verify);
    if (!ctx.ok()) {
      errors += c.source_file + ":0:0: backend: " + ctx.status().message() + "\n";
    } else {
      shared->backend_tls = *ctx;
      t.tls = shared->backend_tls.get();
    }
  }
  if (!errors.empty()) {
    errors.pop_back();
    return InvalidArgument(errors);
  }
  return shared;
}

}  // namespace

Status CheckConfigResources(const config::Config& config) {
  auto shared = BuildShared(config);
  return shared.ok() ? Status::Ok() : shared.status();
}

int RunServer(config::ConfigPtr config) {
  const config::Config& c = *config;
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(c.log_level, &level);
  SetLogLevel(level);
  signal(SIGPIPE, SIG_IGN);
  if (Status s = net::InitEventThreading(); !s.ok()) {
    LogEvent(LogLevel::kError, "startup_failed").Add("error", s.message());
    return 1;
  }
  auto shared = BuildShared(c);
  if (!shared.ok()) {
    LogEvent(LogLevel::kError, "startup_failed").Add("error", shared.status().message());
    return 1;
  }
  std::vector<std::string> listener_names;
  for (const auto& l : (*shared)->listeners) listener_names.push_back(l.context.name);
  stats::MetricsPtr metrics = stats::Metrics::Create(listener_names, c.backend.name, IMAPGATE_VERSION);

  relay::RelayOptions relay;
  relay.high_watermark = c.limits.relay_high_watermark_bytes;
  relay.low_watermark = c.limits.relay_low_watermark_bytes;
  relay.idle_timeout = c.timeouts.idle;

  std::string prefix = RandomIdPrefix();
  std::vector<WorkerPtr> workers;
  int count = WorkerCount(c);
  for (int i = 0; i < count; ++i) {
    WorkerOptions o;
    o.index = i;
    o.listeners = &(*shared)->listeners;
    o.backend = &(*shared)->backend;
    o.relay = relay;
    o.max_sessions = c.limits.max_sessions_per_worker;
    o.metrics = metrics.get();
    o.time = &RealTimeSource::Get();
    o.id_prefix = prefix + "-" + std::to_string(i) + "-";
    auto w = Worker::Create(o);
    if (!w.ok()) {
      LogEvent(LogLevel::kError, "startup_failed").Add("error", w.status().message());
      return 1;
    }
    workers.push_back(std::move(*w));
  }

  auto main_loop = net::EventLoop::Create();
  if (!main_loop.ok()) return 1;
  std::atomic<bool> draining{false};
  admin::AdminServerPtr admin_server;
  if (c.admin.address.port != 0) {
    auto a = admin::AdminServer::Create(main_loop->get(), c.admin.address.host, c.admin.address.port, metrics.get(),
                                        [&draining] { return !draining.load(); });
    if (!a.ok()) {
      LogEvent(LogLevel::kError, "startup_failed").Add("error", "admin: " + a.status().message());
      return 1;
    }
    admin_server = std::move(*a);
  }

  auto stop_all = [&] {
    for (auto& w : workers) w->Stop();
    (*main_loop)->Stop();
  };
  auto deadline = std::chrono::steady_clock::now();
  // While draining, the main loop checks every 100 ms whether the workers' sessions are gone.
  net::TimerPtr drain_timer;
  std::function<void()> poll_drain = [&] {
    size_t active = 0;
    for (auto& w : workers) active += w->active_sessions();
    if (active == 0 || std::chrono::steady_clock::now() >= deadline) {
      LogEvent(LogLevel::kInfo, "shutdown").Add("sessions_closed", static_cast<uint64_t>(active));
      stop_all();
      return;
    }
    drain_timer->Arm(std::chrono::milliseconds(100));
  };
  auto drain_timer_or = net::Timer::Create(main_loop->get(), [&] { poll_drain(); });
  if (!drain_timer_or.ok()) return 1;
  drain_timer = std::move(*drain_timer_or);

  auto on_term = net::SignalWatcher::Create(main_loop->get(), SIGTERM, [&] {
    if (draining.exchange(true)) return;
    LogEvent(LogLevel::kInfo, "draining").Add("grace_s", static_cast<int64_t>(c.timeouts.shutdown_grace.count() / 1000));
    deadline = std::chrono::steady_clock::now() + c.timeouts.shutdown_grace;
    for (auto& w : workers) w->BeginDrain();
    poll_drain();
  });
  auto on_int = net::SignalWatcher::Create(main_loop->get(), SIGINT, [&] {
    draining = true;
    LogEvent(LogLevel::kInfo, "stopping");
    stop_all();
  });
  auto on_hup = net::SignalWatcher::Create(main_loop->get(), SIGHUP, [] {
    LogEvent(LogLevel::kWarn, "reload_unsupported").Add("detail", "configuration reload is not implemented yet; restart to apply changes");
  });
  if (!on_term.ok() || !on_int.ok() || !on_hup.ok()) return 1;

  for (auto& w : workers) w->StartThread();
  LogEvent(LogLevel::kInfo, "started")
      .Add("version", IMAPGATE_VERSION)
      .Add("workers", count)
      .Add("listeners", static_cast<int64_t>(listener_names.size()))
      .Add("backend", (*shared)->backend.label)
      .Add("admin_port", static_cast<int64_t>(admin_server ? admin_server->bound_port() : 0));
  (*main_loop)->Run();
  for (auto& w : workers) w->Join();
  workers.clear();
  admin_server.reset();
  LogEvent(LogLevel::kInfo, "stopped");
  return 0;
}

}  // namespace imapgate::server
