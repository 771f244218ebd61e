// Server: builds every long-lived object from a Config — the configuration Generation (TLS
// contexts, listener specs, backend target), the metrics, one listening socket per listener, the
// workers and the admin endpoint — and runs them until a signal ends the process.
//
// Create() does everything that may need root or may fail, in this order: raise the descriptor
// limit; build the generation (load every certificate and key); bind every listener once, without
// SO_REUSEPORT, so that a second process on the same address fails with an error naming the
// listener; bind the admin endpoint; switch to the configured user and harden the process; create
// the workers, each watching every listening socket. Run() starts the worker threads and runs the
// main loop.
//
// Runs on the main thread, which owns the admin endpoint and the signal handlers; each worker
// runs its own thread. SIGTERM drains (stop accepting, /healthz turns 503, wait for sessions up
// to timeouts.shutdown_grace, then BYE to the rest); SIGINT stops at once; SIGHUP reloads the
// configuration (Reload).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_server.h"
#include "admin/status_board.h"
#include "common/status.h"
#include "common/time_source.h"
#include "config/config.h"
#include "net/event_loop.h"
#include "net/signal_watcher.h"
#include "net/timer.h"
#include "server/admin_abuse_store.h"
#include "server/admin_control_impl.h"
#include "server/generation.h"
#include "session/session_registry.h"
#include "server/users_watcher.h"
#include "upstream/health_checker.h"
#include "server/worker.h"
#include "stats/metrics.h"

namespace imapgate::server {

// What `imapgate -t` found: errors (one "FILE:LINE:COL: message" or "what: message" per line;
// empty when the config can be served) and warnings (risky but valid settings, addresses in use).
struct CheckReport {
  std::string errors;
  std::vector<std::string> warnings;
};

// Checks what LoadConfigFile cannot: certificates and keys load, addresses resolve and can be
// bound (an address in use is a warning, see ClassifyBindProbe), the user and group exist and the
// process would not serve as root without allow_root; plus ConfigWarnings.
CheckReport CheckConfigResources(const config::ConfigPtr& config);

class Server {
 public:
  // Binds, loads and drops privileges; fails with a message naming what failed.
  static StatusOr<std::unique_ptr<Server>> Create(config::ConfigPtr config);
  ~Server();

  // Runs until SIGTERM/SIGINT. Returns the process exit code.
  int Run();
  // Main thread: hands a new generation to every worker (each takes it on its own loop).
  void InstallGeneration(GenerationPtr generation);
  // Main thread (SIGHUP, and the admin API's POST /api/v1/reload): reads the file the process
  // started with again, validates it, builds the next Generation and installs it. New logins use
  // it; sessions already running keep theirs. What needs a restart (see server/reload.h) is kept
  // as running and logged as one reload_needs_restart warning each; then reload_ok. On any error
  // nothing changes, reload_failed is logged and the Status message is the error text (one
  // "FILE:LINE:COL: message" per line). `trigger` ("sighup", "api") is only logged.
  Status Reload(std::string_view trigger = "api");

 private:
  friend class ServerAdminControl;  // reads the generation, health, registry and workers
  Server() = default;
  Status BindListeners();
  Status CreateWorkers(size_t session_cap);
  Status CreateAdminAndSignals();
  // (Re)starts the active health checks of the current generation's backends on the main loop.
  Status StartHealthChecks();
  void StopAll();
  void PollDrain();
  void LogStarted() const;

  config::ConfigPtr config_;  // the configuration in effect (the current generation's)
  stats::MetricsPtr metrics_;
  GenerationPtr generation_;
  session::SessionRegistry registry_;  // relayed sessions of every worker (admin API)
  // Refusals and login/TLS counters for the status page (issue E); outlives the workers.
  admin::StatusBoard status_board_;
  int64_t started_unix_ = 0;        // wall clock at Create (main thread only)
  int64_t config_loaded_unix_ = 0;  // start-up, then each successful reload (main thread only)
  // Backend health, shared by every generation (entries by backend name), the workers' logins,
  // the checker and the admin API.
  std::shared_ptr<health::BackendHealthTable> health_;
  // The auth stage's process-wide state (hash pool, caches, users stores), shared by generations.
  std::shared_ptr<auth::AuthServices> auth_;
  std::shared_ptr<abuse::AbuseServices> abuse_;  // issue C: fingerprints, connection counts, store
  std::unique_ptr<AdminAbuseStore> admin_abuse_store_;  // the admin API's handle on the store
  // Users moved at runtime (admin API, fleet), shared by every generation's backend pool.
  std::shared_ptr<route::RuntimeMoves> moves_ = std::make_shared<route::RuntimeMoves>();
  std::unique_ptr<UsersFileWatcher> users_watcher_;  // on main_loop_
  std::vector<std::shared_ptr<const net::UniqueFd>> listen_fds_;  // one per generation listener
  std::vector<WorkerPtr> workers_;
  std::unique_ptr<net::EventLoop> main_loop_;
  std::unique_ptr<ServerAdminControl> admin_control_;  // the admin API's view of this server
  admin::AdminServerPtr admin_;
  upstream::HealthCheckerPtr health_checker_;  // on main_loop_ (destroyed before it); a reload restarts it
  net::TimerPtr drain_timer_;
  std::vector<std::unique_ptr<net::SignalWatcher>> signals_;
  std::atomic<bool> draining_{false};
  std::chrono::steady_clock::time_point drain_deadline_;
  uint64_t descriptor_limit_ = 0;
  size_t session_cap_ = 0;
  std::vector<std::string> warnings_;
  const TimeSource* time_ = &RealTimeSource::Get();
};

// Create() then Run(); logs startup_failed and returns 1 when Create fails.
int RunServer(config::ConfigPtr config);

}  // namespace imapgate::server
