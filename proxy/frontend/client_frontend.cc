#include "frontend/client_frontend.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/log.h"
#include "imap/capabilities.h"
#include "imap/response.h"
#include "imap/sasl.h"

namespace imapgate::frontend {
namespace {

constexpr std::chrono::milliseconds kCloseGrace{5000};

const TimeSource& Clock(const FrontendOptions& options) {
  return options.time ? *options.time : RealTimeSource::Get();
}

}  // namespace

StatusOr<std::unique_ptr<ClientFrontend>> ClientFrontend::Create(net::EventLoop* loop, net::UniqueFd fd,
                                                                 const FrontendOptions& options,
                                                                 FrontendDelegate* delegate, char* scratch,
                                                                 size_t scratch_size) {
  for (const std::string& m : options.sasl_mechanisms) {
    if (!imap::IsSupportedSaslMechanism(m)) {
      return Status(StatusCode::kInvalidArgument, "unsupported SASL mechanism: " + m);
    }
  }
  std::unique_ptr<ClientFrontend> f(new ClientFrontend(options, delegate, scratch, scratch_size));
  net::TransportPtr transport;
  if (options.implicit_tls) {
    auto tls = tls::NewServerTransport(*options.tls, fd.release());
    if (!tls.ok()) return tls.status();
    f->tls_ = tls->get();
    transport = std::move(*tls);
  } else {
    transport = net::MakePlainTransport(fd.release());
  }
  auto conn = net::BufferedConnection::Create(loop, std::move(transport), f.get());
  if (!conn.ok()) return conn.status();
  f->conn_ = std::move(*conn);
  ClientFrontend* raw = f.get();
  auto timer = net::Timer::Create(loop, [raw] { raw->OnTimeout(); });
  if (!timer.ok()) return timer.status();
  f->timer_ = std::move(*timer);
  // Before login the kernel keeps at most max_queued_reply_bytes of unsent replies: the server
  // sets TCP_NOTSENT_LOWAT on the listening socket and accepted sockets inherit it (no syscall
  // per connection); with our own queue's bound, a client that does not read cannot make us hold
  // more. TakeConnection lifts it for the relay.
  return f;
}

void ClientFrontend::ArmWithinDeadline(std::chrono::milliseconds limit) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(preauth_deadline_ -
                                                                    Clock(options_).MonotonicNow());
  timer_->Arm(std::max(std::chrono::milliseconds(0), std::min(limit, left)));
}

ClientFrontend::ClientFrontend(const FrontendOptions& options, FrontendDelegate* delegate, char* scratch,
                               size_t scratch_size)
    : options_(options), delegate_(delegate), scratch_(scratch), scratch_size_(scratch_size),
      parser_(options.parser) {}

ClientFrontend::~ClientFrontend() = default;

std::string ClientFrontend::TlsVersion() const { return conn_.open() ? conn_.transport().ProtocolName() : "none"; }

void ClientFrontend::Start() {
  // The pre-auth time bounds the connection: one deadline from accept to login, which neither
  // the handshake nor STARTTLS extends.
  preauth_deadline_ = Clock(options_).MonotonicNow() + options_.preauth_timeout;
  if (options_.implicit_tls) {
    state_ = State::kHandshake;
    ArmWithinDeadline(options_.tls_handshake_timeout);
    DoHandshake();
  } else {
    state_ = State::kReading;
    ArmWithinDeadline(options_.preauth_timeout);
    SendGreeting();
    if (state_ != State::kReading) return;  // refused (StartRefusing): closing
    Flush();
    UpdateInterest();
  }
}

void ClientFrontend::StartRefusing(std::string text) {
  refusal_ = "* BYE " + std::move(text) + "\r\n";
  Start();
}

void ClientFrontend::SendGreeting() {
  if (!refusal_.empty()) {
    CloseWith(FrontendEnd::kRefused, refusal_);
    return;
  }
  auto phase = tls_active() ? imap::PreAuthPhase::kTls : imap::PreAuthPhase::kCleartextTlsRequired;
  Send("* OK [CAPABILITY " + imap::PreAuthCapabilities(phase, options_.sasl_mechanisms) + "] imapgate ready\r\n");
}

void ClientFrontend::OnIo(net::IoWatcher*, bool readable, bool writable) {
  if (state_ == State::kDone) return;
  if (readable && state_ == State::kAwaitingLogin) {
    // A client that hangs up while its login waits (a slow auth service, a push approval) ends
    // the session now: its login is cancelled, and no request runs on for nobody.
    if (net::PeerHasHungUp(conn_.fd())) {
      end_ = FrontendEnd::kClientClosed;
      FinishClose();
      return;
    }
    input_during_login_ = true;
  }
  if (state_ == State::kHandshake) {
    DoHandshake();
    return;
  }
  if (conn_.ShouldFlush(readable, writable)) {
    Flush();
    if (state_ == State::kDone) return;
  }
  if (paused_ && !RepliesBacklogged()) {
    // The client took enough of our replies: go on with the commands it already sent.
    paused_ = false;
    ProcessEvents();
    if (state_ == State::kDone) return;
    if (!paused_ && conn_.HasBufferedInput()) conn_.ActivateRead();
  }
  if (conn_.ShouldRead(readable, writable) && !paused_ &&
      (state_ == State::kReading || state_ == State::kAwaitingSasl)) {
    ReadAndProcess();
    if (state_ == State::kDone) return;
  }
  if (!conn_.has_output()) {
    if (state_ == State::kFlushThenTls) {
      UpgradeToTls();
      return;
    }
    if (state_ == State::kClosing) {
      FinishClose();
      return;
    }
  }
  UpdateInterest();
}

void ClientFrontend::DoHandshake() {
  net::IoResult r = tls_->Handshake();
  switch (r.status) {
    case net::IoStatus::kOk: {
      stats::Metrics::TlsHandshakeEvent event;
      event.ok = true;
      event.version = tls_->VersionLabel();
      event.resumed = tls_->SessionReused();
      event.starttls = starttls_done_;
      delegate_->OnTlsHandshake(event);
      state_ = State::kReading;
      ArmWithinDeadline(options_.preauth_timeout);
      if (!starttls_done_) SendGreeting();  // after STARTTLS the client speaks first
      if (state_ != State::kReading) return;  // refused (StartRefusing): closing
      Flush();
      if (state_ == State::kDone) return;
      // TLS 1.3 clients may already have sent their first command with the Finished message.
      if (tls_->HasBufferedInput()) conn_.ActivateRead();
      UpdateInterest();
      return;
    }
    case net::IoStatus::kWantRead:
      conn_.watcher().WantRead(true);
      conn_.watcher().WantWrite(false);
      return;
    case net::IoStatus::kWantWrite:
      conn_.watcher().WantRead(false);
      conn_.watcher().WantWrite(true);
      return;
    default: {
      LogEvent(LogLevel::kDebug, "tls_handshake_failed").Add("reason", tls_->failure_reason());
      stats::Metrics::TlsHandshakeEvent event;
      event.failure = tls::HandshakeFailureName(tls_->failure_kind());
      delegate_->OnTlsHandshake(event);
      end_ = FrontendEnd::kTlsFailed;
      FinishClose();
      return;
    }
  }
}

void ClientFrontend::ReadAndProcess() {
  // Read once per readiness event (level-triggered), plus whatever TLS has already decrypted.
  for (int round = 0; round < 8; ++round) {
    net::IoResult r = conn_.Read(scratch_, scratch_size_);
    // WANT_WRITE: TLS must write before it can read; the interest retries on writability.
    if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) return;
    if (r.status != net::IoStatus::kOk) {
      end_ = FrontendEnd::kClientClosed;
      FinishClose();
      return;
    }
    preauth_bytes_ += r.bytes;
    if (preauth_bytes_ > options_.max_preauth_bytes) {
      SecureWipe(scratch_, r.bytes);
      CloseWith(FrontendEnd::kPreauthBytes, "* BYE Too much data before login\r\n");
      return;
    }
    parser_.Feed(std::string_view(scratch_, r.bytes));
    SecureWipe(scratch_, r.bytes);  // the scratch buffer may have held a password
    ProcessEvents();
    if (state_ != State::kReading && state_ != State::kAwaitingSasl) return;
    if (paused_ || !conn_.HasBufferedInput()) return;
  }
  conn_.ActivateRead();  // more decrypted input is waiting: continue on the next loop turn
}

void ClientFrontend::ProcessEvents() {
  while (state_ == State::kReading || state_ == State::kAwaitingSasl) {
    if (RepliesBacklogged()) {
      Flush();
      if (state_ == State::kDone) return;
      if (RepliesBacklogged()) {
        // The client does not read: answer nothing more until it does (OnIo resumes).
        paused_ = true;
        return;
      }
    }
    imap::ParseEvent ev = parser_.Next();
    switch (ev) {
      case imap::ParseEvent::kNeedMore:
        Flush();
        return;
      case imap::ParseEvent::kContinuationNeeded:
        Send("+ Ready for literal data\r\n");
        break;
      case imap::ParseEvent::kCommand:
        HandleCommand(parser_.TakeCommand());
        break;
      case imap::ParseEvent::kSaslResponse:
        HandleSaslResponse(parser_.TakeSaslResponse());
        break;
      case imap::ParseEvent::kBad:
        if (state_ == State::kAwaitingSasl) state_ = State::kReading;
        Send(imap::Tagged(parser_.error().tag, "BAD", parser_.error().message));
        CountBad();
        break;
      case imap::ParseEvent::kFatal: {
        const imap::ParseError& e = parser_.error();
        std::string tag = e.tag;
        if (state_ == State::kAwaitingSasl) {
          // An oversized SASL line: the BAD names the AUTHENTICATE it ends.
          tag = step_continuation_ ? pending_tag_ : sasl_tag_;
          EndSasl();
        }
        CloseWith(FrontendEndForParseError(e.code), imap::Tagged(tag, "BAD", e.message) + "* BYE " + e.message + "\r\n");
        return;
      }
    }
  }
  Flush();
}

void ClientFrontend::CountBad() {
  if (++bad_commands_ >= options_.max_bad_commands) {
    CloseWith(FrontendEnd::kBadCommands, "* BYE Too many invalid commands\r\n");
  }
}

void ClientFrontend::HandleCommand(imap::Command command) {
  std::string tag = command.tag;  // valid: the parser checked it
  imap::PreAuthValidation v = imap::ValidatePreAuthCommand(std::move(command), options_.id);
  if (!v.command) {
    Send(imap::Tagged(tag, "BAD", v.bad_reason));
    CountBad();
    return;
  }
  imap::PreAuthCommand& c = *v.command;
  auto phase = tls_active() ? imap::PreAuthPhase::kTls : imap::PreAuthPhase::kCleartextTlsRequired;
  switch (c.verb) {
    case imap::PreAuthVerb::kCapability:
      Send("* CAPABILITY " + imap::PreAuthCapabilities(phase, options_.sasl_mechanisms) + "\r\n");
      Send(imap::Tagged(c.tag, "OK", "Capability completed"));
      return;
    case imap::PreAuthVerb::kNoop:
      Send(imap::Tagged(c.tag, "OK", "NOOP completed"));
      return;
    case imap::PreAuthVerb::kLogout:
      CloseWith(FrontendEnd::kLogout, "* BYE Logging out\r\n" + imap::Tagged(c.tag, "OK", "Logout completed"));
      return;
    case imap::PreAuthVerb::kId:
      // Client ID parameters are accepted and bounded; nothing of them is echoed. They are kept
      // for the login's context (a 2FA push hook shows the user which client asks).
      client_id_ = std::move(c.id_params);
      Send("* ID (\"name\" \"imapgate\")\r\n");
      Send(imap::Tagged(c.tag, "OK", "ID completed"));
      return;
    case imap::PreAuthVerb::kStartTls:
      HandleStartTls(c.tag);
      return;
    case imap::PreAuthVerb::kLogin:
      if (!tls_active()) {
        Send(imap::Tagged(c.tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS before LOGIN"));
        delegate_->OnCleartextLoginRefused();
        CountBad();
        return;
      }
      RequestLogin(LoginRequest{c.tag, "LOGIN", std::move(c.user), std::move(c.password), {}, false});
      return;
    case imap::PreAuthVerb::kAuthenticate:
      HandleAuthenticate(c);
      return;
  }
}

bool ClientFrontend::MechanismAllowed(std::string_view mechanism) const {
  return std::find(options_.sasl_mechanisms.begin(), options_.sasl_mechanisms.end(), mechanism) !=
         options_.sasl_mechanisms.end();
}

void ClientFrontend::HandleAuthenticate(imap::PreAuthCommand& c) {
  if (!tls_active()) {
    Send(imap::Tagged(c.tag, "NO", "[PRIVACYREQUIRED] Use STARTTLS before AUTHENTICATE"));
    delegate_->OnCleartextLoginRefused();
    CountBad();
    return;
  }
  if (!MechanismAllowed(c.mechanism)) {
    Send(imap::Tagged(c.tag, "NO", "[CANNOT] Unsupported authentication mechanism"));
    CountBad();
    return;
  }
  sasl_tag_ = c.tag;
  sasl_mechanism_ = c.mechanism;
  sasl_login_password_ = false;
  state_ = State::kAwaitingSasl;
  if (!c.initial_response) {
    // LOGIN asks for the user name; the others send an empty challenge.
    AskSasl(sasl_mechanism_ == "LOGIN" ? imap::kSaslLoginUserChallenge : std::string_view());
    return;
  }
  // The initial response takes the continuation path (for LOGIN it is the user name).
  HandleSaslResponse(std::move(*c.initial_response));
}

void ClientFrontend::AskSasl(std::string_view payload) {
  parser_.ExpectSaslResponse();
  std::string line = "+ ";
  line.append(payload);
  line.append("\r\n");
  Send(line);
}

void ClientFrontend::EndSasl() {
  state_ = State::kReading;
  sasl_tag_.clear();
  sasl_mechanism_.clear();
  sasl_login_password_ = false;
  sasl_login_user_.clear();
}

void ClientFrontend::RefuseAuthentication(const std::string& tag, std::string_view text) {
  bool printable = !text.empty() && text.size() <= 256;
  for (char ch : text) printable = printable && ch >= 0x20 && ch < 0x7f;
  Send(imap::Tagged(tag, "NO", "[AUTHENTICATIONFAILED] " +
                                   (printable ? std::string(text) : std::string("Authentication failed"))));
  if (++auth_failures_ >= options_.max_auth_attempts) {
    CloseWith(FrontendEnd::kAuthAttempts, "* BYE Too many authentication failures\r\n");
  }
}

void ClientFrontend::HandleSaslResponse(SecretString response) {
  if (step_continuation_) {
    // The answer to a login step's challenge: back to waiting for the login's verdict.
    step_continuation_ = false;
    state_ = State::kAwaitingLogin;
    input_during_login_ = false;
    delegate_->OnLoginContinuation(std::move(response));
    return;
  }
  const std::string tag = sasl_tag_;
  const std::string mechanism = sasl_mechanism_;
  auto bad = [&](std::string_view reason) {
    EndSasl();
    Send(imap::Tagged(tag, "BAD", reason));
    CountBad();
  };
  if (response.view() == "*") {
    bad("AUTHENTICATE cancelled");
    return;
  }
  std::optional<SecretString> decoded;
  if (response.view() == "=") {
    decoded.emplace();
  } else {
    decoded = imap::DecodeBase64(response.view(), imap::kMaxSaslMessageBytes);
  }
  response.clear();
  if (!decoded) {
    bad("Invalid base64 in SASL response");
    return;
  }
  LoginRequest request;
  request.tag = tag;
  if (mechanism == "PLAIN") {
    std::optional<imap::SaslPlainCredentials> creds = imap::ParseSaslPlain(decoded->view());
    if (!creds) {
      bad("Invalid SASL PLAIN message");
      return;
    }
    if (!creds->authzid.empty() && creds->authzid.view() != creds->authcid.view()) {
      if (!options_.allow_authzid) {
        // Acting as another user needs master users. AUTHENTICATIONFAILED (as Dovecot answers),
        // not AUTHORIZATIONFAILED: the password was never checked (RFC 5530 uses the latter only
        // once authentication succeeded), and the answer must not tell which part was wrong.
        EndSasl();
        RefuseAuthentication(tag);
        return;
      }
      request.authzid = std::move(creds->authzid);
    }
    request.mechanism = "PLAIN";
    request.user = std::move(creds->authcid);
    request.password = std::move(creds->password);
  } else if (mechanism == "LOGIN") {
    if (!sasl_login_password_) {
      std::optional<SecretString> user = imap::ParseSaslLoginField(decoded->view(), imap::kMaxSaslUserBytes);
      if (!user) {
        bad("Invalid SASL LOGIN user name");
        return;
      }
      sasl_login_user_ = std::move(*user);
      sasl_login_password_ = true;
      AskSasl(imap::kSaslLoginPasswordChallenge);
      return;
    }
    std::optional<SecretString> password =
        imap::ParseSaslLoginField(decoded->view(), imap::kMaxSaslPasswordBytes);
    if (!password) {
      bad("Invalid SASL LOGIN password");
      return;
    }
    request.mechanism = "SASL-LOGIN";
    request.user = std::move(sasl_login_user_);
    request.password = std::move(*password);
  } else if (mechanism == "XOAUTH2") {
    std::optional<imap::Xoauth2Credentials> creds = imap::ParseXoauth2(decoded->view());
    if (!creds) {
      bad("Invalid SASL XOAUTH2 message");
      return;
    }
    request.mechanism = "XOAUTH2";
    request.user = std::move(creds->user);
    request.password = std::move(creds->token);
    request.bearer = true;
  } else if (mechanism == "OAUTHBEARER") {
    std::optional<imap::OauthBearerCredentials> creds = imap::ParseOauthBearer(decoded->view());
    if (!creds) {
      bad("Invalid SASL OAUTHBEARER message");
      return;
    }
    request.mechanism = "OAUTHBEARER";
    request.user = std::move(creds->user);  // the authzid names the user: no other identity
    request.password = std::move(creds->token);
    request.bearer = true;
  } else {
    bad("Unsupported authentication mechanism");  // not reached: checked by HandleAuthenticate
    return;
  }
  EndSasl();
  RequestLogin(std::move(request));
}

void ClientFrontend::RequestLogin(LoginRequest request) {
  state_ = State::kAwaitingLogin;
  input_during_login_ = false;
  pending_tag_ = request.tag;
  Flush();
  if (state_ == State::kDone) return;
  UpdateInterest();
  delegate_->OnLoginRequested(std::move(request));
}

void ClientFrontend::LoginRejected(LoginRejection why, std::string_view text) {
  if (state_ != State::kAwaitingLogin) return;
  state_ = State::kReading;
  bool printable = !text.empty() && text.size() <= 256;
  for (char ch : text) printable = printable && ch >= 0x20 && ch < 0x7f;
  if (why == LoginRejection::kUnavailable) {
    Send(imap::Tagged(pending_tag_, "NO",
                      "[UNAVAILABLE] " + (printable ? std::string(text) : std::string("Backend unavailable, try again later"))));
  } else if (why == LoginRejection::kLimit) {
    Send(imap::Tagged(pending_tag_, "NO", "[LIMIT] " + (printable ? std::string(text) : std::string("Too many connections"))));
  } else {
    RefuseAuthentication(pending_tag_, text);
    if (state_ == State::kClosing || state_ == State::kDone) return;
  }
  ProcessEvents();  // commands the client pipelined behind the failed login
  if (state_ == State::kDone) return;
  if (conn_.HasBufferedInput()) conn_.ActivateRead();
  UpdateInterest();
}

StatusOr<ClientConnection> ClientFrontend::TakeConnection(const std::string& client_capabilities) {
  if (state_ != State::kAwaitingLogin) {
    return Status(StatusCode::kUnavailable, "the client session is closing; no login is pending");
  }
  net::SetNotSentLowWatermark(conn_.fd(), 0);  // the relay has its own bounds
  Send(imap::Tagged(pending_tag_, "OK", "[CAPABILITY " + client_capabilities + "] Logged in"));
  timer_->Cancel();
  state_ = State::kDone;
  // Interest is handed over as it is: the relay sets what it needs, and an fd that stays
  // registered costs no epoll_ctl pair at the hand-over.
  conn_.set_handler(nullptr);
  ClientConnection c;
  c.connection = std::move(conn_);
  c.pipelined_input = parser_.TakeBuffered();
  tls_ = nullptr;
  return StatusOr<ClientConnection>(std::move(c));
}

void ClientFrontend::Shutdown(const char* text) {
  if (state_ == State::kDone || state_ == State::kClosing) return;
  if (state_ == State::kHandshake) {
    end_ = FrontendEnd::kShutdown;
    FinishClose();
    return;
  }
  CloseWith(FrontendEnd::kShutdown, std::string("* BYE ") + text + "\r\n");
}

void ClientFrontend::SendContinuation(std::string_view payload) {
  if (state_ != State::kAwaitingLogin) return;
  step_continuation_ = true;
  state_ = State::kAwaitingSasl;
  parser_.ExpectSaslResponse();
  Send("+ ");
  Send(payload);
  Send("\r\n");
  Flush();  // the response is read on the next readable event, never inside this call
  if (state_ == State::kDone) return;
  if (conn_.HasBufferedInput()) conn_.ActivateRead();
  UpdateInterest();
}

void ClientFrontend::ExtendTimeout(std::chrono::milliseconds delay) {
  if (state_ == State::kAwaitingLogin || state_ == State::kAwaitingSasl) timer_->Arm(delay);
}

void ClientFrontend::HandleStartTls(const std::string& tag) {
  if (tls_active()) {
    Send(imap::Tagged(tag, "BAD", "TLS is already active"));
    CountBad();
    return;
  }
  // Command injection defence (CVE-2011-0411 class): the client may send nothing after the
  // STARTTLS line until it has read our answer. Any byte already buffered, by us or by the
  // kernel, is an attack or a broken client: refuse and close; it is never executed.
  if (parser_.buffered_bytes() > 0 || net::HasPendingInput(conn_.fd())) {
    CloseWith(FrontendEnd::kStartTlsInjection, "* BYE Data after STARTTLS is not allowed\r\n");
    return;
  }
  Send(imap::Tagged(tag, "OK", "Begin TLS negotiation now"));
  state_ = State::kFlushThenTls;
  Flush();
  if (state_ == State::kFlushThenTls && !conn_.has_output()) UpgradeToTls();
}

void ClientFrontend::UpgradeToTls() {
  // The single place where a plaintext session becomes TLS. All pre-TLS state is discarded:
  // parser buffers, the auth attempt count, the capability phase (derived from starttls_done_).
  int fd = conn_.ReleaseFdForUpgrade();
  conn_.SetTransport(nullptr);
  conn_.StopWatching();  // the fd may be closed below: no interest may stay on it
  auto tls = options_.tls ? tls::NewServerTransport(*options_.tls, fd)
                          : StatusOr<tls::TlsTransportPtr>(Internal("no TLS context"));
  if (!tls.ok()) {
    if (!options_.tls) {
      net::UniqueFd close_it(fd);  // NewServerTransport was not called to take it
    }
    LogEvent(LogLevel::kError, "starttls_failed").Add("error", tls.status().message());
    end_ = FrontendEnd::kInternalError;
    FinishClose();  // no transport: nothing more is written
    return;
  }
  tls_ = tls->get();
  conn_.SetTransport(std::move(*tls));
  parser_ = imap::CommandParser(options_.parser);
  auth_failures_ = 0;
  starttls_done_ = true;
  paused_ = false;
  state_ = State::kHandshake;
  ArmWithinDeadline(options_.tls_handshake_timeout);  // never past the connection's deadline
  DoHandshake();
}

void ClientFrontend::Send(std::string_view bytes) { conn_.Queue(bytes); }

void ClientFrontend::Flush() {
  if (conn_.Flush() != net::IoStatus::kError) return;  // written, or blocked: the interest waits
  conn_.DiscardOutput();
  if (state_ != State::kClosing) end_ = FrontendEnd::kClientClosed;
  FinishClose();
}

void ClientFrontend::CloseWith(FrontendEnd end, std::string_view final_bytes) {
  end_ = end;
  Send(final_bytes);
  state_ = State::kClosing;
  timer_->Arm(kCloseGrace);
  Flush();
  if (state_ != State::kClosing) return;
  if (!conn_.has_output()) {
    FinishClose();
    return;
  }
  UpdateInterest();  // called from the timer too: wait for writability to flush the rest
}

void ClientFrontend::FinishClose() {
  if (state_ == State::kDone) return;
  state_ = State::kDone;
  timer_->Cancel();
  conn_.StopWatching();
  if (conn_.open() && end_ != FrontendEnd::kClientClosed && end_ != FrontendEnd::kTlsFailed) {
    conn_.transport().ShutdownWrite();
    // Commands the client sent and we never read (a paused or refused client) would make the
    // close a reset, which discards our last words (the BYE) still in the kernel: drop them,
    // at most the pre-auth byte budget.
    // Read into the worker's scratch buffer (not a null buffer with MSG_TRUNC: sanitizers model
    // that as a write to address 0 from every worker) and wipe it: it may hold a password.
    size_t dropped = 0;
    while (dropped < options_.max_preauth_bytes) {
      ssize_t n = ::recv(conn_.fd(), scratch_, scratch_size_, MSG_DONTWAIT);
      if (n <= 0) break;
      SecureWipe(scratch_, static_cast<size_t>(n));
      dropped += static_cast<size_t>(n);
    }
  }
  delegate_->OnFrontendEnded(end_);
}

void ClientFrontend::OnTimeout() {
  switch (state_) {
    case State::kHandshake: {
      stats::Metrics::TlsHandshakeEvent event;
      event.failure = "timeout";
      delegate_->OnTlsHandshake(event);
      end_ = FrontendEnd::kTimeout;
      FinishClose();
      return;
    }
    case State::kClosing:
      FinishClose();  // the client is not reading our last words
      return;
    case State::kDone:
      return;
    default:
      CloseWith(FrontendEnd::kTimeout, "* BYE Pre-authentication timeout\r\n");
      return;
  }
}

void ClientFrontend::UpdateInterest() {
  if (state_ == State::kDone || state_ == State::kHandshake) return;
  bool reading = (state_ == State::kReading || state_ == State::kAwaitingSasl) && !paused_;
  // While a login is in flight nothing is read, but read interest is left as it was, so the
  // relay finds it armed (two epoll_ctl calls less per login). Only a client that sends more
  // meanwhile (pipelining) gets it disarmed, so level-triggered readiness cannot spin.
  bool keep_armed = state_ == State::kAwaitingLogin && !input_during_login_ && conn_.watcher().wants_read();
  conn_.UpdateInterest(reading || keep_armed);
}

}  // namespace imapgate::frontend
