#include "session/session.h"

#include <cstdio>

#include "abuse/worker_abuse.h"
#include "admin/status_board.h"
#include "auth/auth_step.h"
#include "common/log.h"
#include "imap/capabilities.h"
#include "server/generation.h"

namespace imapgate::session {
namespace {

// The session_start line: tls says whether the listener is TLS from the first byte (implicit) or
// cleartext until STARTTLS; on a PROXY listener `client` is the header's address and `proxy` the
// socket's peer ("" before or without a header).
void LogSessionStart(const std::string& sid, const ListenerContext& listener, const std::string& client,
                     const std::string& proxy) {
  LogEvent e(LogLevel::kInfo, "session_start");
  e.Add("sid", sid).Add("listener", listener.name).Add("client", client);
  e.Add("tls", listener.frontend.implicit_tls ? "implicit" : "starttls");
  if (!proxy.empty()) e.Add("proxy", proxy);
}

}  // namespace

StatusOr<std::unique_ptr<Session>> Session::Create(WorkerContext* worker, const ListenerContext* listener,
                                                   net::UniqueFd fd, const net::SocketAddress& peer) {
  std::unique_ptr<Session> s(new Session(worker, listener));
  s->client_address_ = peer.ToString();
  s->peer_ = peer;
  auto frontend = frontend::ClientFrontend::Create(worker->loop, std::move(fd), listener->frontend, s.get(),
                                                   worker->scratch, worker->scratch_size);
  if (!frontend.ok()) return frontend.status();
  s->frontend_ = std::move(*frontend);
  return s;
}

Session::Session(WorkerContext* worker, const ListenerContext* listener)
    : worker_(worker), generation_(worker->generation), login_generation_(generation_), listener_(listener),
      started_(worker->time->MonotonicNow()),
      backend_step_(worker->loop, worker->time, &generation_->pool, worker->scratch, worker->scratch_size) {
  char id[64];
  std::snprintf(id, sizeof id, "%s%llx", worker->id_prefix.c_str(),
                static_cast<unsigned long long>(worker->next_id++));
  id_ = id;
}

Session::~Session() = default;

template <typename T>
void Session::DeleteSoon(std::unique_ptr<T> stage) {
  if (!stage) return;
  T* raw = stage.release();
  worker_->loop->Defer([raw] { delete raw; });
}

void Session::Start() {
  worker_->metrics->ConnectionAccepted(listener_->index);
  worker_->metrics->SessionOpened(listener_->index);
  if (!listener_->proxy_protocol) {
    LogSessionStart(id_, *listener_, client_address_, "");
    StartFrontend();
    return;
  }
  // PROXY in: nothing of the client's is read, and nothing is sent, before the header.
  net::ProxyHeaderOptions options;
  options.timeout = listener_->proxy_timeout;
  auto reader = net::ProxyHeaderReader::Start(worker_->loop, frontend_->fd(), peer_, listener_->proxy_trusted,
                                              options, [this](const net::ProxyHeaderResult& r) { OnProxyHeader(r); });
  if (!reader.ok()) {
    LogSessionStart(id_, *listener_, client_address_, "");
    LogEvent(LogLevel::kError, "proxy_header_failed").Add("sid", id_).Add("error", reader.status().message());
    worker_->loop->Defer([this] { Finish("internal_error"); });
    return;
  }
  proxy_reader_ = std::move(*reader);
}

void Session::OnProxyHeader(const net::ProxyHeaderResult& result) {
  DeleteSoon(std::move(proxy_reader_));  // we are inside its callback
  if (finished_) return;
  if (!result.ok) {
    LogSessionStart(id_, *listener_, client_address_, "");
    worker_->metrics->ProxyHeader(listener_->index, false);
    RecordRefusal("proxy_header");
    LogEvent(LogLevel::kWarn, "proxy_header_refused")
        .Add("sid", id_)
        .Add("peer", client_address_)
        .Add("listener", listener_->name)
        .Add("reason", result.error);
    Finish("proxy_refused");  // closes the socket: the client is told nothing
    return;
  }
  worker_->metrics->ProxyHeader(listener_->index, true);
  peer_ = result.client;
  proxied_local_ = result.destination;
  LogSessionStart(id_, *listener_, peer_.ToString(), client_address_);
  client_address_ = peer_.ToString();
  StartFrontend();
}

void Session::StartFrontend() {
  abuse_ = worker_->abuse;
  if (abuse_) {
    abuse::WorkerAbuse::Admission admission = abuse_->Admit(peer_, id_);
    if (!admission.admitted) {
      RecordRefusal(admission.reason);
      frontend_->StartRefusing(std::move(admission.bye_text));
      return;
    }
    preauth_slots_ = std::move(admission.slots);
  }
  frontend_->Start();
}

void Session::Shutdown() {
  if (finished_) return;
  if (relay_) {
    relay_->Shutdown("Server shutting down");
  } else if (frontend_) {
    frontend_->Shutdown("Server shutting down");
  }
}

int Session::ShardMetricsIndex() const {
  const login::BackendPool& pool = login_generation_->pool;
  if (backend_index_ >= pool.backends.size()) return -1;
  return pool.shards[pool.backends[backend_index_].shard].metrics_index;
}

void Session::Kick(const char* text) {
  if (!relaying()) return;
  relay_->Shutdown(text, relay::RelayEnd::kKicked);
}

void Session::RecordRefusal(std::string_view reason) {
  if (worker_->status == nullptr) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(worker_->time->WallNow().time_since_epoch()).count();
  worker_->status->refusals().Record(now, listener_->name, reason, client_address_);
}

void Session::CountLogin(stats::LoginResult result, double seconds) {
  worker_->metrics->LoginFinished(listener_->index, result, seconds);
  if (worker_->status != nullptr) worker_->status->CountLogin(result == stats::LoginResult::kOk);
}

void Session::OnTlsHandshake(const stats::Metrics::TlsHandshakeEvent& event) {
  worker_->metrics->TlsHandshake(listener_->index, event);
  if (worker_->status != nullptr) worker_->status->CountTlsHandshake(event.ok);
  if (event.ok) tls_version_ = frontend_->TlsVersion();
}

void Session::OnLoginRequested(frontend::LoginRequest request) {
  user_ = std::string(request.user.view());
  login_started_ = worker_->time->MonotonicNow();
  login::LoginAttempt attempt;
  attempt.session_id = id_;
  attempt.user = user_;
  attempt.password = std::move(request.password);
  attempt.mechanism = std::move(request.mechanism);
  attempt.authzid = std::string(request.authzid.view());
  attempt.bearer = request.bearer;
  attempt.client = peer_;
  attempt.local = proxied_local_ ? *proxied_local_ : net::LocalAddress(frontend_->fd());
  attempt.client_tls = frontend_->IsTls();
  attempt.tls_version = tls_version_;
  attempt.tls_server_name = frontend_->TlsServerName();
  attempt.client_id = frontend_->client_id();
  attempt.number = ++login_count_;
  DeleteSoon(std::move(pipeline_));  // a previous (decided) login of this session
  // A login routes with the worker's newest configuration (a reload's shard map, backends and
  // overrides apply to every login from then on, also of a client connected before it).
  login_generation_ = worker_->generation;
  backend_step_.set_pool(&login_generation_->pool);
  backend_step_.set_warm_pool(worker_->warm_pool);
  // The previous login's runtime goes after its pipeline (deferred deletions run in order).
  if (login_auth_ != worker_->auth) worker_->loop->Defer([old = std::move(login_auth_)] {});
  login_auth_ = worker_->auth;
  if (login_abuse_ != worker_->abuse) worker_->loop->Defer([old = std::move(login_abuse_)] {});
  login_abuse_ = worker_->abuse;
  login::LoginStep* auth_step = login_auth_ ? login_auth_->StepFor(listener_->position) : nullptr;
  login::LoginStep* abuse_step = login_abuse_ ? login_abuse_->step() : nullptr;
  size_t step_count = 0;
  if (abuse_step != nullptr) steps_[step_count++] = abuse_step;
  if (auth_step != nullptr) steps_[step_count++] = auth_step;
  steps_[step_count++] = &backend_step_;
  std::span<login::LoginStep* const> steps = worker_->login_steps.empty()
                                                 ? std::span<login::LoginStep* const>(steps_, step_count)
                                                 : worker_->login_steps;
  pipeline_ = std::make_unique<login::LoginPipeline>(steps, std::move(attempt), this, &worker_->tickets);
  pipeline_->Start();
}

void Session::OnLoginContinuation(SecretString response) {
  if (pipeline_) pipeline_->OnClientResponse(std::move(response));
}

void Session::ArmStepTimer(std::chrono::milliseconds delay) {
  if (!step_timer_) {
    auto timer = net::Timer::Create(worker_->loop, [this] {
      if (pipeline_) pipeline_->OnStepTimeout();
    });
    if (!timer.ok()) {
      LogEvent(LogLevel::kError, "step_timer_failed").Add("sid", id_).Add("error", timer.status().message());
      if (frontend_) frontend_->Shutdown("Internal error");
      return;
    }
    step_timer_ = std::move(*timer);
  }
  step_timer_->Arm(delay);
  // A step allowed to wait longer than the pre-login budget (a push approval) holds the
  // connection open for its own timeout, which answers first.
  if (delay.count() > 0 && frontend_) frontend_->ExtendTimeout(delay + std::chrono::seconds(5));
}

void Session::CancelStepTimer() {
  if (step_timer_) step_timer_->Cancel();
}

void Session::DeleteLater(std::unique_ptr<login::StepRequest> request) { DeleteSoon(std::move(request)); }

void Session::SendContinuation(std::string_view payload) {
  if (frontend_) frontend_->SendContinuation(payload);
}

void Session::OnLoginDecided(const login::Verdict& verdict, std::string_view step) {
  if (finished_) return;  // the client went away (or timed out) while the login ran
  login::LoginAttempt& attempt = pipeline_->attempt();
  if (attempt.route) {
    shard_ = attempt.route->shard;
    backend_name_ = attempt.route->backend;
    backend_index_ = attempt.route->backend_index;
    worker_->metrics->RouteDecision(attempt.route->source);
  }
  failovers_ = attempt.failovers;
  app_password_ = attempt.app_password;
  if (login_abuse_) login_abuse_->OnLoginDecided(attempt, verdict);
  if (verdict.kind == login::VerdictKind::kAccept && attempt.backend) {
    if (login_abuse_) {
      // The session limits count logged-in sessions, so they are checked once the credentials
      // are known to be right; on a refusal the backend connection is dropped.
      abuse::WorkerAbuse::SessionAdmission admission = login_abuse_->AdmitSession(attempt, id_);
      if (!admission.ok) {
        attempt.backend.reset();
        double seconds = std::chrono::duration<double>(worker_->time->MonotonicNow() - login_started_).count();
        CountLogin(stats::LoginResult::kUnavailable, seconds);
        RecordRefusal(admission.reason);
        DeleteSoon(std::move(pipeline_));  // we are inside its callback
        frontend_->LoginRejected(frontend::LoginRejection::kLimit, admission.text);
        return;
      }
      session_slots_ = std::move(admission.slots);
    }
    {  // written here, before anything the relay's start logs
      LogEvent e(LogLevel::kInfo, "login_ok");
      e.Add("sid", id_).Add("client", client_address_).Add("listener", listener_->name).Add("user", user_);
      e.Add("mechanism", attempt.mechanism).Add("tls", attempt.tls_version);
      e.Add("shard", shard_.empty() ? std::string_view("-") : std::string_view(shard_));
      e.Add("backend", backend_name_.empty() ? std::string_view("-") : std::string_view(backend_name_));
      if (!app_password_.empty()) e.Add("app_password", app_password_);  // the device name
      e.Add("failovers", failovers_).Add("step", step);
      e.Add("duration_s", std::chrono::duration<double>(worker_->time->MonotonicNow() - login_started_).count());
    }
    upstream::BackendLoginResult result = std::move(*attempt.backend);
    attempt.backend.reset();
    DeleteSoon(std::move(pipeline_));  // we are inside its callback
    OnLoggedIn(std::move(result));
    return;
  }
  OnLoginRejected(verdict, step);
}

void Session::OnLoginRejected(const login::Verdict& verdict, std::string_view step) {
  double seconds = std::chrono::duration<double>(worker_->time->MonotonicNow() - login_started_).count();
  bool auth_failed = verdict.kind == login::VerdictKind::kReject && verdict.reason == login::RejectReason::kAuthFailed;
  const stats::LoginResult result = auth_failed ? stats::LoginResult::kAuthFailed : stats::LoginResult::kUnavailable;
  CountLogin(result, seconds);
  if (int shard = ShardMetricsIndex(); shard >= 0) worker_->metrics->ShardLogin(shard, result, failovers_);
  // imapgate_backend_errors_total is counted by the backend step, for each backend that failed.
  // A wrong password is routine (info); a backend or service that cannot be reached is the
  // operator's business (warn).
  LogEvent(auth_failed ? LogLevel::kInfo : LogLevel::kWarn, "login_failed")
      .Add("sid", id_)
      .Add("client", client_address_)
      .Add("listener", listener_->name)
      .Add("user", user_)
      .Add("mechanism", pipeline_ ? std::string_view(pipeline_->attempt().mechanism) : std::string_view("-"))
      .Add("shard", shard_.empty() ? std::string_view("-") : std::string_view(shard_))
      .Add("backend", backend_name_.empty() ? std::string_view("-") : std::string_view(backend_name_))
      .Add("step", step)
      .Add("reason", verdict.kind == login::VerdictKind::kReject ? std::string_view(verdict.detail)
                                                                   : std::string_view("no backend connection"));
  DeleteSoon(std::move(pipeline_));  // we are inside its callback
  // An auth source's refusal text, or the abuse defence's reason; a backend or service down gets
  // the generic text.
  const bool limited = verdict.kind == login::VerdictKind::kReject && verdict.reason == login::RejectReason::kLimited;
  // A login refused by a limit (the abuse defence: a block, a surge, the policy hook) is a
  // refusal; a wrong password or a backend down is not.
  if (limited) RecordRefusal("login_" + verdict.detail);
  frontend_->LoginRejected(auth_failed ? frontend::LoginRejection::kAuthFailed
                                       : frontend::LoginRejection::kUnavailable,
                           auth_failed || limited ? std::string_view(verdict.client_text) : std::string_view());
}

void Session::OnLoggedIn(upstream::BackendLoginResult result) {
  double seconds = std::chrono::duration<double>(worker_->time->MonotonicNow() - login_started_).count();
  auto taken = frontend_->TakeConnection(imap::FilterBackendCapabilities(result.capabilities));
  if (!taken.ok()) return;  // the frontend is closing (timeout, shutdown): it ends the session
  CountLogin(stats::LoginResult::kOk, seconds);
  if (int shard = ShardMetricsIndex(); shard >= 0) {
    worker_->metrics->ShardLogin(shard, stats::LoginResult::kOk, failovers_);
  }
  // Logged in: no longer a connection before login of its address (session_slots_ count it now);
  // it still counts towards the total until it ends.
  preauth_slots_.address.Release();
  frontend::ClientConnection client = std::move(*taken);
  DeleteSoon(std::move(frontend_));
  client.connection.Queue(result.leftover);  // after the tagged OK, in the backend's order
  std::string_view to_backend(client.pipelined_input.data(), client.pipelined_input.size());
  auto relay = relay::Relay::Create(worker_->loop, std::move(client.connection), std::move(result.connection),
                                    to_backend, login_generation_->relay, worker_->time, worker_->scratch,
                                    worker_->scratch_size, [this](const relay::RelayResult& r) { OnRelayDone(r); });
  if (!relay.ok()) {
    LogEvent(LogLevel::kError, "relay_failed").Add("sid", id_).Add("error", relay.status().message());
    Finish("internal_error");
    return;
  }
  relay_ = std::move(*relay);
  const login::BackendPool& pool = login_generation_->pool;
  if (pool.health && backend_index_ < pool.backends.size()) {
    active_backend_ = health::ActiveSession(pool.health.get(), pool.backends[backend_index_].health);
  }
  if (worker_->registry != nullptr) {
    record_ = std::make_shared<SessionRecord>();
    record_->id = id_;
    record_->user = user_;
    record_->client_address = client_address_;
    record_->shard = shard_;
    record_->backend = backend_name_;
    record_->app_password = app_password_;
    record_->started_unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                        worker_->time->WallNow().time_since_epoch()).count();
    relay_->set_counters(&record_->bytes);
    worker_->registry->Add(record_);
  }
  relay_->Start();
}

void Session::OnRelayDone(const relay::RelayResult& result) {
  relay_result_ = result;
  // imapgate_relay_bytes_total is counted by the relay as the bytes flow (not again here).
  Finish(relay::RelayEndName(result.end));
}

void Session::OnFrontendEnded(frontend::FrontendEnd end) {
  if (auto reason = frontend::FrontendEndRejectReason(end)) {
    worker_->metrics->PreauthRejected(listener_->index, *reason);
    RecordRefusal(stats::RejectReasonName(*reason));
  }
  DeleteSoon(std::move(pipeline_));  // a login still in flight is abandoned (cancelled)
  Finish(frontend::FrontendEndName(end));
}

void Session::OnCleartextLoginRefused() {
  worker_->metrics->CleartextLoginRefused(listener_->index);
  RecordRefusal("cleartext_login");
  LogEvent(LogLevel::kInfo, "login_failed")
      .Add("sid", id_)
      .Add("client", client_address_)
      .Add("listener", listener_->name)
      .Add("step", "frontend")
      .Add("reason", "cleartext login refused: STARTTLS first");
}

void Session::Finish(const char* result) {
  if (finished_) return;
  finished_ = true;
  double duration = std::chrono::duration<double>(worker_->time->MonotonicNow() - started_).count();
  LogEvent(LogLevel::kInfo, "session_end")
      .Add("sid", id_)
      .Add("client", client_address_)
      .Add("listener", listener_->name)
      .Add("user", user_.empty() ? std::string_view("-") : std::string_view(user_))
      .Add("backend", relay_ ? std::string_view(backend_name_) : std::string_view("-"))
      .Add("tls", tls_version_)
      .Add("bytes_in", relay_result_.client_to_backend)
      .Add("bytes_out", relay_result_.backend_to_client)
      .Add("duration_s", duration)
      .Add("result", result);
  worker_->metrics->SessionClosed(listener_->index, duration);
  worker_->metrics->SessionEnded(listener_->index, result);
  if (record_ && worker_->registry != nullptr) worker_->registry->Remove(record_.get());
  active_backend_.Reset();
  worker_->on_session_done(this);
}

}  // namespace imapgate::session
