#include "upstream/backend_login.h"

#include <string.h>

#include <algorithm>

#include "net/proxy_header_reader.h"
#include "proxyproto/encoder.h"
#include "imap/response_parser.h"

namespace imapgate::upstream {
namespace {

// The tag of the ID command; its answer is read and ignored while the LOGIN is answered.
constexpr std::string_view kIdTag = "A4";

}  // namespace

StatusOr<std::unique_ptr<BackendLogin>> BackendLogin::Start(net::EventLoop* loop, const TimeSource* time,
                                                            const BackendTarget& target,
                                                            BackendCredentials credentials, DoneFn done,
                                                            char* scratch, size_t scratch_size,
                                                            const ClientIdentity* client,
                                                            std::optional<BackendConnection> warm) {
  std::unique_ptr<BackendLogin> b(new BackendLogin(loop, time, target, std::move(credentials), std::move(done),
                                                   scratch, scratch_size, client));
  Status started = b->Begin(std::move(warm));
  if (!started.ok()) return started;
  return b;
}

BackendLogin::BackendLogin(net::EventLoop* loop, const TimeSource* time, const BackendTarget& target,
                           BackendCredentials credentials, DoneFn done, char* scratch, size_t scratch_size,
                           const ClientIdentity* client)
    : loop_(loop), time_(time), target_(target), done_(std::move(done)), scratch_(scratch),
      scratch_size_(scratch_size) {
  if (std::optional<LoginArguments> login = FormatLoginArguments(credentials)) {
    user_ = std::move(login->user);
    password_ = std::move(login->password);
  } else if (std::optional<SecretString> sasl = FormatSaslPlainResponse(credentials)) {
    sasl_plain_ = std::move(*sasl);
  } else if (std::holds_alternative<BearerTokenCredentials>(credentials)) {
    bearer_ = true;
    bearer_xoauth2_ = std::move(*FormatBearerResponse(credentials, BearerMechanism::kXoauth2));
    bearer_oauthbearer_ = std::move(*FormatBearerResponse(credentials, BearerMechanism::kOauthBearer));
  }
  if (client != nullptr) id_command_ = FormatIdCommand(kIdTag, *client);
  if (target.send_proxy_v2 && client != nullptr) {
    // PROXY v2 out: the client's real address, and the address it connected to.
    std::optional<proxyproto::Endpoint> src = net::ToEndpoint(client->client);
    std::optional<proxyproto::Endpoint> dst = net::ToEndpoint(client->local);
    if (src && dst) proxy_header_ = proxyproto::EncodeV2(*src, *dst);
  }
}

bool BackendLogin::RetainsCredentials(std::string_view secret) const {
  if (!user_.empty() || !password_.empty() || !sasl_plain_.empty() || !bearer_xoauth2_.empty() ||
      !bearer_oauthbearer_.empty() || !sasl_pending_.empty()) {
    return true;
  }
  return conn_.OutputStorageContains(secret);
}

BackendLogin::~BackendLogin() = default;

Status BackendLogin::Begin(std::optional<BackendConnection> warm) {
  BackendLogin* self = this;
  auto complete = net::Timer::Create(loop_, [self] {
    DoneFn done = std::move(self->done_);
    done(std::move(self->result_));  // may destroy *this later; nothing follows
  });
  auto timer = net::Timer::Create(loop_, [self] { self->OnTimer(); });
  if (!complete.ok()) return complete.status();  // cannot even report asynchronously
  if (!timer.ok()) return timer.status();
  complete_ = std::move(*complete);
  timer_ = std::move(*timer);
  started_ = time_->MonotonicNow();
  if (warm) {
    // Connected and greeted already: the login clock starts now, and the LOGIN goes out at once
    // (a failure is reported through `done`, later).
    timer_->Arm(target_.login_timeout);
    warm_ = true;
    OnBackendReady(std::move(*warm));
    return Status::Ok();
  }
  auto connector = BackendConnector::Start(loop_, time_, target_, timer_.get(), this, scratch_, scratch_size_,
                                           /*require_capability=*/false, std::move(proxy_header_));
  if (!connector.ok()) return connector.status();
  connector_ = std::move(*connector);
  return Status::Ok();
}

void BackendLogin::OnTimer() {
  if (state_ == State::kConnecting) {
    connector_->OnTimer();  // connect and greeting deadlines
    return;
  }
  Fail(BackendOutcome::kUnavailable, "login timeout");
}

void BackendLogin::OnBackendFailed(std::string detail) { Fail(BackendOutcome::kUnavailable, std::move(detail)); }

void BackendLogin::OnBackendReady(BackendConnection connection) {
  // Called from the connector's I/O callback: the LOGIN goes out in this same callback.
  if (!warm_) connect_seconds_ = std::chrono::duration<double>(time_->MonotonicNow() - started_).count();
  conn_ = std::move(connection.connection);
  conn_.watcher().set_handler(this);
  capabilities_ = std::move(connection.capabilities);
  input_ = std::move(connection.input);
  SendLogin();
  if (state_ == State::kDone) return;
  if (!HandleBufferedLines()) return;
  if (conn_.transport().HasBufferedInput()) conn_.watcher().ActivateRead();
  UpdateInterest();
}

void BackendLogin::OnIo(net::IoWatcher*, bool readable, bool writable) {
  if (state_ == State::kDone || state_ == State::kConnecting) return;
  if (conn_.ShouldFlush(readable, writable) && !FlushOutput()) return;
  if (conn_.ShouldRead(readable, writable) && !ReadLines()) return;
  UpdateInterest();
}

bool BackendLogin::ReadLines() {
  for (int round = 0; round < 16; ++round) {
    net::IoResult r = conn_.Read(scratch_, scratch_size_);
    // WANT_WRITE: TLS must write before it can read; the interest retries on writability.
    if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) return true;
    if (r.status != net::IoStatus::kOk) {
      Fail(BackendOutcome::kUnavailable, r.status == net::IoStatus::kEof ? "backend closed the connection"
                                                                          : "backend read error");
      return false;
    }
    input_.append(scratch_, r.bytes);
    if (!HandleBufferedLines()) return false;
    // Done when TLS holds nothing more; a short read also means the socket is drained.
    if (!conn_.transport().HasBufferedInput() && r.bytes < scratch_size_) return true;
  }
  conn_.watcher().ActivateRead();
  return true;
}

bool BackendLogin::HandleBufferedLines() {
  for (;;) {
    size_t nl = input_.find('\n');
    if (nl == std::string::npos) break;
    if (nl > target_.max_line_bytes) {
      Fail(BackendOutcome::kUnavailable, "backend response line too long");
      return false;
    }
    std::string line = input_.substr(0, nl);
    input_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!HandleLine(line)) return false;
    if (state_ == State::kDone) return false;
  }
  if (input_.size() > target_.max_line_bytes) {
    Fail(BackendOutcome::kUnavailable, "backend response line too long");
    return false;
  }
  return true;
}

bool BackendLogin::HandleLine(std::string_view raw) {
  imap::ResponseLine line = imap::ParseResponseLine(raw);
  if (line.ends_with_literal) {
    Fail(BackendOutcome::kUnavailable, "backend sent a literal before login");
    return false;
  }
  if (line.kind == imap::ResponseKind::kUntagged) {
    if (line.status == imap::ResponseStatus::kBye) {
      Fail(BackendOutcome::kUnavailable, "backend said BYE");
      return false;
    }
    if (line.untagged_name == "CAPABILITY") capabilities_ = line.rest;
    if (line.code == "CAPABILITY") capabilities_ = line.code_args;
  }
  switch (state_) {
    case State::kSaslContinuation:
      if (line.kind == imap::ResponseKind::kContinuation) {
        // The backend's (empty) challenge: our initial response, then the tagged answer.
        Queue(sasl_pending_.view());
        Queue("\r\n");
        sasl_pending_.clear();
        state_ = State::kLoginReply;
        return FlushOutput();
      }
      [[fallthrough]];
    case State::kLoginUserContinuation:
    case State::kLoginPassContinuation:
    case State::kLoginReply:
      // The answer to our ID (OK, or NO/BAD from a backend that refuses it) changes nothing.
      if (line.kind == imap::ResponseKind::kTagged && line.tag == kIdTag) return true;
      if (state_ != State::kLoginReply && line.kind == imap::ResponseKind::kContinuation) {
        if (state_ == State::kLoginUserContinuation) {
          Queue(user_.view());
          Queue(" {" + std::to_string(password_.size()) + "}\r\n");
          state_ = State::kLoginPassContinuation;
        } else {
          Queue(password_.view());
          Queue("\r\n");
          user_.clear();
          password_.clear();
          state_ = State::kLoginReply;
        }
        return FlushOutput();
      }
      if (line.kind == imap::ResponseKind::kContinuation && state_ == State::kLoginReply && bearer_ &&
          !sasl_error_acked_) {
        // XOAUTH2/OAUTHBEARER failure: an error challenge the client acknowledges (XOAUTH2: an
        // empty response; OAUTHBEARER: ^A, RFC 7628 §3.2.3); the tagged NO follows.
        sasl_error_acked_ = true;
        Queue(sasl_error_ack_);
        Queue("\r\n");
        return FlushOutput();
      }
      if (line.kind == imap::ResponseKind::kContinuation) {
        Fail(BackendOutcome::kUnavailable, "unexpected continuation from backend");
        return false;
      }
      if (line.kind != imap::ResponseKind::kTagged) return true;
      if (line.tag != "A2") {
        Fail(BackendOutcome::kUnavailable, "unexpected tag from backend");
        return false;
      }
      if (line.status == imap::ResponseStatus::kNo) {
        bool unavailable = line.code == "UNAVAILABLE" || line.code == "SERVERBUG";
        Fail(unavailable ? BackendOutcome::kUnavailable : BackendOutcome::kAuthFailed,
             unavailable ? "backend unavailable for login" : "backend rejected credentials");
        return false;
      }
      if (line.status != imap::ResponseStatus::kOk) {
        Fail(BackendOutcome::kUnavailable, "backend answered LOGIN with BAD");
        return false;
      }
      // The tagged OK: the login took this long (a CAPABILITY round trip may follow).
      login_seconds_ = std::chrono::duration<double>(time_->MonotonicNow() - started_).count();
      if (line.code == "CAPABILITY") {
        capabilities_ = line.code_args;
        Succeed();
        return false;
      }
      capabilities_.clear();
      state_ = State::kPostLoginCapability;
      Queue("A3 CAPABILITY\r\n");
      return FlushOutput();
    case State::kPostLoginCapability:
      if (line.kind != imap::ResponseKind::kTagged) return true;
      if (line.tag != "A3" || line.status != imap::ResponseStatus::kOk) {
        Fail(BackendOutcome::kUnavailable, "backend CAPABILITY failed after login");
        return false;
      }
      Succeed();
      return false;
    default:
      return true;
  }
}

void BackendLogin::SendLogin() {
  if (bearer_) {
    SendBearer();
    return;
  }
  if (HasCapability(capabilities_, "LOGINDISABLED")) {
    Fail(BackendOutcome::kUnavailable, "Remote advertised LOGINDISABLED");
    return;
  }
  literal_plus_ = HasCapability(capabilities_, "LITERAL+");
  if (!sasl_plain_.empty() &&
      (!HasCapability(capabilities_, "AUTH=PLAIN") || !HasCapability(capabilities_, "SASL-IR"))) {
    Fail(BackendOutcome::kUnavailable, "backend does not offer AUTH=PLAIN with SASL-IR for the master user");
    return;
  }
  // The client's identity goes first, in the same write as the LOGIN (its answer is skipped).
  if (!id_command_.empty() && HasCapability(capabilities_, "ID")) Queue(id_command_);
  if (!sasl_plain_.empty()) {
    // A master user with the client as authzid: one line, answered like the LOGIN (tag A2).
    Queue("A2 AUTHENTICATE PLAIN ");
    Queue(sasl_plain_.view());
    Queue("\r\n");
    sasl_plain_.clear();
    state_ = State::kLoginReply;
    FlushOutput();
    return;
  }
  // Credentials always travel as literals: no quoting rules to get wrong, any byte allowed.
  if (literal_plus_) {
    Queue("A2 LOGIN {" + std::to_string(user_.size()) + "+}\r\n");
    Queue(user_.view());
    Queue(" {" + std::to_string(password_.size()) + "+}\r\n");
    Queue(password_.view());
    Queue("\r\n");
    user_.clear();
    password_.clear();
    state_ = State::kLoginReply;
  } else {
    Queue("A2 LOGIN {" + std::to_string(user_.size()) + "}\r\n");
    state_ = State::kLoginUserContinuation;
  }
  FlushOutput();
}

void BackendLogin::SendBearer() {
  std::optional<BearerMechanism> mechanism = ChooseBearerMechanism(capabilities_);
  if (!mechanism) {
    Fail(BackendOutcome::kUnavailable, "backend does not offer XOAUTH2/OAUTHBEARER");
    return;
  }
  const bool xoauth2 = *mechanism == BearerMechanism::kXoauth2;
  SecretString response = std::move(xoauth2 ? bearer_xoauth2_ : bearer_oauthbearer_);
  bearer_xoauth2_.clear();
  bearer_oauthbearer_.clear();
  sasl_error_ack_ = xoauth2 ? "" : "AQ==";
  if (!id_command_.empty() && HasCapability(capabilities_, "ID")) Queue(id_command_);
  Queue(xoauth2 ? "A2 AUTHENTICATE XOAUTH2" : "A2 AUTHENTICATE OAUTHBEARER");
  if (HasCapability(capabilities_, "SASL-IR")) {
    Queue(" ");
    Queue(response.view());
    Queue("\r\n");
    state_ = State::kLoginReply;
  } else {
    Queue("\r\n");
    sasl_pending_ = std::move(response);
    state_ = State::kSaslContinuation;
  }
  FlushOutput();
}

void BackendLogin::Queue(std::string_view bytes) { conn_.Queue(bytes); }

bool BackendLogin::FlushOutput() {
  // What was written is wiped at once (BufferedConnection::Flush): it held the credentials.
  if (conn_.Flush() == net::IoStatus::kError) {
    Fail(BackendOutcome::kUnavailable, "backend write error");
    return false;
  }
  return true;
}

void BackendLogin::UpdateInterest() {
  if (state_ == State::kDone || !conn_.open()) return;
  // Read always; write when queued bytes are blocked or a TLS read must write first.
  conn_.UpdateInterest(true);
}

void BackendLogin::Fail(BackendOutcome outcome, std::string detail) {
  if (state_ == State::kDone) return;
  result_ = BackendLoginResult();
  result_.outcome = outcome;
  result_.detail = std::move(detail);
  result_.connect_seconds = connect_seconds_;
  Complete();
}

void BackendLogin::Succeed() {
  result_.outcome = BackendOutcome::kLoggedIn;
  result_.detail = "logged in";
  result_.connect_seconds = connect_seconds_;
  result_.login_seconds = login_seconds_;
  result_.capabilities = capabilities_;
  result_.leftover = std::move(input_);
  Complete();
  conn_.set_handler(nullptr);  // detached from us, interest kept for the relay
  result_.connection = std::move(conn_);
}

void BackendLogin::Complete() {
  state_ = State::kDone;
  user_.clear();
  password_.clear();
  sasl_plain_.clear();
  bearer_xoauth2_.clear();
  bearer_oauthbearer_.clear();
  sasl_pending_.clear();
  if (conn_.open()) conn_.DiscardOutput();
  if (timer_) timer_->Cancel();
  if (conn_.open()) {
    // After a successful login the read interest stays armed for the relay, which takes the
    // watcher over (re-arming it would cost two epoll_ctl calls per login); Succeed() detaches
    // the handler so nothing is read meanwhile.
    if (result_.outcome != BackendOutcome::kLoggedIn) conn_.watcher().WantRead(false);
    conn_.watcher().WantWrite(false);
  }
  complete_->FireSoon();
}

}  // namespace imapgate::upstream
