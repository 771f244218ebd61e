#include "session/session.h"

#include <cstdio>

#include "common/log.h"
#include "imap/capabilities.h"
#include "server/generation.h"

namespace imapgate::session {

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
    : worker_(worker), generation_(worker->generation), listener_(listener),
      started_(worker->time->MonotonicNow()) {
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

void Session::OnTlsHandshake(bool ok) {
  worker_->metrics->TlsHandshake(listener_->index, ok);
  if (ok) tls_version_ = frontend_->TlsVersion();
}

void Session::OnLoginRequested(frontend::LoginRequest request) {
  user_ = std::string(request.user.view());
  login_started_ = worker_->time->MonotonicNow();
  upstream::ClientIdentity identity;
  identity.session_id = id_;
  identity.client = peer_;
  identity.local = net::LocalAddress(frontend_->fd());
  identity.tls = frontend_->IsTls();
  login_ = upstream::BackendLogin::Start(
      worker_->loop, generation_->backend, std::move(request.user), std::move(request.password),
      [this](upstream::BackendLoginResult result) { OnBackendLogin(std::move(result)); }, worker_->scratch,
      worker_->scratch_size, &identity);
}

void Session::OnBackendLogin(upstream::BackendLoginResult result) {
  DeleteSoon(std::move(login_));
  if (finished_) return;  // the client went away (or timed out) while the login ran
  double seconds = std::chrono::duration<double>(worker_->time->MonotonicNow() - login_started_).count();
  if (result.outcome != upstream::BackendOutcome::kLoggedIn) {
    bool unavailable = result.outcome == upstream::BackendOutcome::kUnavailable;
    worker_->metrics->LoginFinished(listener_->index,
                                    unavailable ? stats::LoginResult::kUnavailable : stats::LoginResult::kAuthFailed,
                                    seconds);
    if (unavailable) worker_->metrics->BackendError();
    LogEvent(LogLevel::kInfo, "login_failed")
        .Add("sid", id_)
        .Add("user", user_)
        .Add("backend", generation_->backend.label)
        .Add("reason", result.detail);
    frontend_->LoginRejected(unavailable ? frontend::LoginRejection::kUnavailable
                                         : frontend::LoginRejection::kAuthFailed);
    return;
  }
  worker_->metrics->LoginFinished(listener_->index, stats::LoginResult::kOk, seconds);
  frontend::ClientConnection client = frontend_->TakeConnection(imap::FilterBackendCapabilities(result.capabilities));
  DeleteSoon(std::move(frontend_));
  std::string to_client = std::move(client.pending_output);
  to_client.append(result.leftover);
  std::string_view to_backend(client.pipelined_input.data(), client.pipelined_input.size());
  auto relay = relay::Relay::Create(
      worker_->loop, relay::RelaySide{std::move(client.transport), std::move(client.watcher)},
      relay::RelaySide{std::move(result.transport), std::move(result.watcher)}, to_client, to_backend,
      generation_->relay, worker_->time, worker_->scratch, worker_->scratch_size,
      [this](const relay::RelayResult& r) { OnRelayDone(r); });
  if (!relay.ok()) {
    LogEvent(LogLevel::kError, "relay_failed").Add("sid", id_).Add("error", relay.status().message());
    Finish("internal_error");
    return;
  }
  relay_ = std::move(*relay);
  relay_->Start();
}

void Session::OnRelayDone(const relay::RelayResult& result) {
  relay_result_ = result;
  worker_->metrics->RelayBytes(result.client_to_backend, result.backend_to_client);
  Finish(relay::RelayEndName(result.end));
}

void Session::OnFrontendEnded(frontend::FrontendEnd end) {
  switch (end) {
    case frontend::FrontendEnd::kLineTooLong:
      worker_->metrics->PreauthRejected(listener_->index, stats::RejectReason::kLineTooLong);
      break;
    case frontend::FrontendEnd::kLiteralTooLarge:
      worker_->metrics->PreauthRejected(listener_->index, stats::RejectReason::kLiteralTooLarge);
      break;
    case frontend::FrontendEnd::kPreauthBytes:
      worker_->metrics->PreauthRejected(listener_->index, stats::RejectReason::kPreauthBytes);
      break;
    case frontend::FrontendEnd::kTimeout:
      worker_->metrics->PreauthRejected(listener_->index, stats::RejectReason::kPreauthTimeout);
      break;
    case frontend::FrontendEnd::kBadCommands:
      worker_->metrics->PreauthRejected(listener_->index, stats::RejectReason::kBadCommands);
      break;
    case frontend::FrontendEnd::kStartTlsInjection:
      worker_->metrics->PreauthRejected(listener_->index, stats::RejectReason::kStartTlsInjection);
      break;
    case frontend::FrontendEnd::kAuthAttempts:
      worker_->metrics->PreauthRejected(listener_->index, stats::RejectReason::kAuthAttempts);
      break;
    case frontend::FrontendEnd::kTlsFailed:
      worker_->metrics->PreauthRejected(listener_->index, stats::RejectReason::kTlsHandshake);
      break;
    default:
      break;
  }
  DeleteSoon(std::move(login_));  // a login still in flight is abandoned
  Finish(frontend::FrontendEndName(end));
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
      .Add("backend", relay_ ? generation_->backend.label : std::string("-"))
      .Add("tls", tls_version_)
      .Add("bytes_in", relay_result_.client_to_backend)
      .Add("bytes_out", relay_result_.backend_to_client)
      .Add("duration_s", duration)
      .Add("result", result);
  worker_->metrics->SessionClosed(listener_->index, duration);
  worker_->on_session_done(this);
}

}  // namespace imapgate::session
