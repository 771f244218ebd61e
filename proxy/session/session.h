// Session: one client connection from accept to close, and the owner of every stage it passes
// through: ClientFrontend (pre-auth) → LoginPipeline (login/: today one step, the backend login
// of issue A's pass-through auth; the rate limits, auth chain, 2FA and routing of later issues
// are further steps) → Relay. The Session is the pipeline's host: it arms the step timer, asks
// the frontend for SASL continuations, and maps the verdict to the client's answer.
//
// Data flows forward: each stage reports to the Session through a callback, and the Session
// starts the next stage. A stage is never destroyed inside its own callback; the Session hands
// it to its own loop for deletion (EventLoop::Defer: same thread, no lock). The Session lives on
// the worker that accepted the connection and ends with exactly one "session_end" log line and
// its metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/time_source.h"
#include "frontend/client_frontend.h"
#include "health/backend_health_table.h"
#include "login/backend_login_step.h"
#include "login/login_pipeline.h"
#include "login/ticket_registry.h"
#include "net/event_loop.h"
#include "net/proxy_header_reader.h"
#include "net/socket.h"
#include "net/timer.h"
#include "proxyproto/cidr.h"
#include "ratelimit/connection_limits.h"
#include "relay/relay.h"
#include "session/session_registry.h"
#include "stats/metrics.h"
#include "upstream/backend_login.h"
#include "upstream/warm_pool.h"

namespace imapgate::auth {
class WorkerAuth;
}

namespace imapgate::abuse {
class WorkerAbuse;
}

namespace imapgate::admin {
class StatusBoard;
}

namespace imapgate::server {
struct Generation;  // server/generation.h: the configuration snapshot a session runs under
}

namespace imapgate::session {

class Session;

// Per-listener settings, part of a Generation; shared read-only by the sessions of every worker.
struct ListenerContext {
  int index = 0;  // metrics label index
  size_t position = 0;  // in the config's listener list (the auth plan's chains are in that order)
  std::string name;
  frontend::FrontendOptions frontend;
  // PROXY protocol in (the listener's proxy_protocol: required): every connection must start
  // with a PROXY v1/v2 header from a peer in proxy_trusted, within proxy_timeout; its address is
  // the client's everywhere (logs, ID forwarding, metrics). Off: the socket's peer is the client.
  bool proxy_protocol = false;
  proxyproto::CidrList proxy_trusted;
  std::chrono::milliseconds proxy_timeout{3000};
};

// Per-worker state every session of that worker uses. Owned by the Worker; outlives sessions.
struct WorkerContext {
  net::EventLoop* loop = nullptr;
  stats::Metrics* metrics = nullptr;
  const TimeSource* time = nullptr;
  // The worker's current configuration generation; a session copies it when it is created and
  // keeps it (backend target, relay options, its ListenerContext) until it ends.
  std::shared_ptr<const server::Generation> generation;
  char* scratch = nullptr;  // shared read buffer; only used inside one callback at a time
  size_t scratch_size = 0;
  std::string id_prefix;    // makes session ids unique across workers and restarts
  uint64_t next_id = 1;
  login::TicketRegistry tickets;  // late results from off-worker login work find their login here
  // The login steps in order (not owned; outlive the sessions). Empty: today's pipeline, the
  // backend login alone. The rate limits, auth chain, 2FA and router of later issues go here.
  std::span<login::LoginStep* const> login_steps;
  // The auth chain and second factor for the current generation (issue B); null: pass-through.
  std::shared_ptr<auth::WorkerAuth> auth;
  // The abuse defence for the current generation (issue C); null: none (unit tests).
  std::shared_ptr<abuse::WorkerAbuse> abuse;
  // Warm backend connections for this worker's logins (not owned; null: none).
  upstream::WarmPool* warm_pool = nullptr;
  // Where relayed sessions are listed for the admin API (not owned; may be null in tests).
  SessionRegistry* registry = nullptr;
  // The status page's refusal ring and counters (issue E; not owned; null: none, in tests).
  admin::StatusBoard* status = nullptr;
  // Called once when a session is over; the worker forgets it and deletes it later.
  std::function<void(Session*)> on_session_done;
};

class Session final : public frontend::FrontendDelegate, public login::PipelineHost {
 public:
  // listener points into worker->generation, which the session copies and keeps.
  static StatusOr<std::unique_ptr<Session>> Create(WorkerContext* worker, const ListenerContext* listener,
                                                   net::UniqueFd fd, const net::SocketAddress& peer);
  ~Session() override;

  void Start();
  // Server shutdown: BYE to the client and close.
  void Shutdown();
  // An operator's kick or a drained backend: "* BYE <text>" to a relayed session and close it.
  // Nothing happens to a session that is not relaying (yet).
  void Kick(const char* text);
  // The user as the client gave it ("" before a login), and the backend it relays to ("" when
  // not relaying): for the worker's kick and drain selection.
  const std::string& user() const { return user_; }
  const std::string& backend_name() const { return backend_name_; }
  // The app password (device) the login used, "" when none: its revocation ends the session.
  const std::string& app_password() const { return app_password_; }
  bool relaying() const { return relay_ != nullptr && !finished_; }

  // FrontendDelegate.
  void OnLoginRequested(frontend::LoginRequest request) override;
  void OnTlsHandshake(const stats::Metrics::TlsHandshakeEvent& event) override;
  void OnFrontendEnded(frontend::FrontendEnd end) override;
  void OnCleartextLoginRefused() override;
  void OnLoginContinuation(SecretString response) override;

  // login::PipelineHost.
  void ArmStepTimer(std::chrono::milliseconds delay) override;
  void CancelStepTimer() override;
  void DeleteLater(std::unique_ptr<login::StepRequest> request) override;
  void SendContinuation(std::string_view payload) override;
  void OnLoginDecided(const login::Verdict& verdict, std::string_view step) override;

  // For tests: the session id, and whether a login is in flight.
  const std::string& id() const { return id_; }
  bool login_in_flight() const { return pipeline_ != nullptr; }

 private:
  Session(WorkerContext* worker, const ListenerContext* listener);
  void OnProxyHeader(const net::ProxyHeaderResult& result);
  // Issue E: a refusal of this connection or login, for the status page (reason: a fixed name).
  void RecordRefusal(std::string_view reason);
  // The login's metrics and the status page's login counter.
  void CountLogin(stats::LoginResult result, double seconds);
  // The client is known (after PROXY in, if any): the abuse admission, then the frontend.
  void StartFrontend();
  // The metrics label index of the shard this session's login went to; -1 when none.
  int ShardMetricsIndex() const;
  void OnLoginRejected(const login::Verdict& verdict, std::string_view step);
  void OnLoggedIn(upstream::BackendLoginResult result);
  void OnRelayDone(const relay::RelayResult& result);
  void Finish(const char* result);
  template <typename T>
  void DeleteSoon(std::unique_ptr<T> stage);

  WorkerContext* worker_;
  std::shared_ptr<const server::Generation> generation_;  // the one this session started with
  // The one its (last) login routed with: the worker's newest at the login; the relay's backend
  // belongs to it.
  std::shared_ptr<const server::Generation> login_generation_;
  const ListenerContext* listener_;                       // points into generation_
  std::string id_;
  std::string client_address_;
  net::SocketAddress peer_;  // the client's address, forwarded to the backend with ID
  std::optional<net::SocketAddress> proxied_local_;  // the address the client connected to (PROXY)
  std::string user_;
  std::string tls_version_ = "none";
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point login_started_;
  relay::RelayResult relay_result_;
  bool finished_ = false;
  // Where the login went (the connect step's route): for logs, the admin API, drain and kick.
  std::string shard_;
  std::string backend_name_;
  size_t backend_index_ = SIZE_MAX;        // into generation_->pool.backends
  int failovers_ = 0;                      // backends of the shard found unusable in the login
  int login_count_ = 0;                    // logins started in this session
  std::string app_password_;               // see app_password()
  health::ActiveSession active_backend_;  // counts this session on its backend while relaying
  std::shared_ptr<SessionRecord> record_;  // in worker_->registry while relaying

  // The pipeline: the abuse check (issue C; none when off), the listener's auth step (issue B:
  // chain and second factor; none when the chain only passes through), then the backend login
  // with routing and failover.
  login::BackendLoginStep backend_step_;
  login::LoginStep* steps_[3] = {&backend_step_, nullptr, nullptr};
  std::shared_ptr<auth::WorkerAuth> login_auth_;  // the runtime the current login's step belongs to
  std::shared_ptr<abuse::WorkerAbuse> abuse_;        // admitted this connection (its generation's)
  std::shared_ptr<abuse::WorkerAbuse> login_abuse_;  // the current login's (the newest generation's)
  ratelimit::ConnectionLimits::PreauthSlots preauth_slots_;  // address: until logged in; total: until closed
  ratelimit::ConnectionLimits::SessionSlots session_slots_;  // while logged in

  std::unique_ptr<net::ProxyHeaderReader> proxy_reader_;  // before the frontend, with PROXY in
  frontend::ClientFrontendPtr frontend_;
  std::unique_ptr<login::LoginPipeline> pipeline_;
  net::TimerPtr step_timer_;  // created by the first step that needs one
  relay::RelayPtr relay_;
};

using SessionPtr = std::unique_ptr<Session>;

}  // namespace imapgate::session
