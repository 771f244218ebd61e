// Worker: one event-loop thread with the sessions it accepted. A session and both of its sockets
// live and die on this worker; nothing on the per-byte path takes a lock.
//
// Listening sockets are bound once by the Server (one per configured listener, no SO_REUSEPORT)
// and shared: every worker watches each of them with its own net::Listener, and the kernel hands
// each connection to one accept4() (the others get EAGAIN). See docs/ARCHITECTURE.md.
//
// The worker holds the current configuration Generation; a new one arrives by SetGeneration (a
// Post to the loop). New sessions take the current one; a running session keeps its own.
//
// Created and destroyed on the main thread; the loop runs on the worker's thread. BeginDrain(),
// Stop() and SetGeneration() are thread-safe (they post to the worker's loop).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/event_loop.h"
#include "net/listener.h"
#include "net/log_limiter.h"
#include "abuse/abuse_services.h"
#include "abuse/worker_abuse.h"
#include "ratelimit/store.h"
#include "server/generation.h"
#include "session/session.h"
#include "upstream/warm_pool.h"

namespace imapgate::server {

struct WorkerOptions {
  int index = 0;
  GenerationPtr generation;  // the first generation; required (moved into the worker's context)
  // One listening socket per generation listener, in the same order (may be empty in tests).
  std::vector<std::shared_ptr<const net::UniqueFd>> listen_fds;
  size_t max_sessions = 100000;  // accept pauses at this many sessions
  stats::Metrics* metrics = nullptr;
  const TimeSource* time = nullptr;
  std::string id_prefix;
  session::SessionRegistry* registry = nullptr;  // relayed sessions, for the admin API; may be null
  // The abuse defence's process-wide part (issue C); null: no defence (unit tests).
  std::shared_ptr<abuse::AbuseServices> abuse;
  // Where sessions record refusals and count logins and TLS handshakes for the status page
  // (issue E; not owned, outlives the worker); null: nowhere (unit tests).
  admin::StatusBoard* status = nullptr;
};

class Worker {
 public:
  static StatusOr<std::unique_ptr<Worker>> Create(WorkerOptions options);
  ~Worker();

  void StartThread();
  void Join();
  // Thread-safe: stop accepting; sessions carry on.
  void BeginDrain();
  // Thread-safe: say BYE to every session, close them, and end the loop.
  void Stop();
  // Thread-safe: sessions accepted from now on use `generation`; running ones keep theirs.
  void SetGeneration(GenerationPtr generation);
  // Thread-safe: accept pauses at `max_sessions` sessions from now on (a reload changed
  // limits.max_sessions_per_worker); a worker already above it keeps its sessions.
  void SetSessionCap(size_t max_sessions);
  size_t active_sessions() const { return active_.load(std::memory_order_relaxed); }
  // Thread-safe: "* BYE <text>" to every relayed session for which match() holds (an operator's
  // kick, a drained backend's grace ending). match runs on the worker's thread.
  void KickWhere(std::function<bool(const session::Session&)> match, std::string text);

  // Loop thread (or before StartThread): starts a session for a connection accepted on listener
  // `listener` (an index into the current generation's listeners). Called by the listeners;
  // public for tests.
  void Accept(size_t listener, net::UniqueFd fd, const net::SocketAddress& peer);
  // Loop thread (or tests without a thread): the current generation, and the loop.
  const Generation* generation() const { return context_.generation.get(); }
  net::EventLoop* loop() const { return loop_.get(); }

 private:
  explicit Worker(WorkerOptions options) : options_(std::move(options)) {}
  void OnSessionDone(session::Session* s);
  void UpdateAccepting();
  // Loop thread (or before StartThread): this worker's auth runtime for the current generation.
  Status BuildAuth();
  // Loop thread (or before StartThread): this worker's abuse runtime for the current generation
  // (and, the first time, its store).
  Status BuildAbuse();
  // Loop thread: a kick or move from the fleet (a fleet store's bus).
  void OnFleetNotice(const abuse::FleetNotice& notice);
  // Loop thread: the warm pool keeps the backends of `g` warm (those without PROXY v2 out).
  void WarmTargets(const Generation& g);

  WorkerOptions options_;
  std::unique_ptr<net::EventLoop> loop_;
  upstream::WarmPoolPtr warm_pool_;  // warm backend connections (warm_connections:); null: off
  ratelimit::StorePtr abuse_store_;  // this loop's abuse store (kept across generations)
  std::vector<char> scratch_;
  session::WorkerContext context_;
  std::vector<net::ListenerPtr> listeners_;
  std::unordered_map<session::Session*, session::SessionPtr> sessions_;
  std::atomic<size_t> active_{0};
  bool draining_ = false;
  bool accept_paused_ = false;
  net::LogRateLimiter cap_log_{1, std::chrono::seconds(10)};
  std::thread thread_;
};

using WorkerPtr = std::unique_ptr<Worker>;

}  // namespace imapgate::server
