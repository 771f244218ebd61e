#include "upstream/backend_connector.h"

#include <string.h>
#include <sys/socket.h>

#include <algorithm>

#include "imap/response_parser.h"
#include "proxyproto/encoder.h"

namespace imapgate::upstream {

bool HasCapability(std::string_view caps, std::string_view name) {
  size_t pos = 0;
  while (pos < caps.size()) {
    size_t end = caps.find(' ', pos);
    if (end == std::string_view::npos) end = caps.size();
    std::string_view word = caps.substr(pos, end - pos);
    if (word.size() == name.size() &&
        std::equal(word.begin(), word.end(), name.begin(),
                   [](char a, char b) { return toupper(static_cast<unsigned char>(a)) == b; })) {
      return true;
    }
    pos = end + 1;
  }
  return false;
}

StatusOr<std::unique_ptr<BackendConnector>> BackendConnector::Start(net::EventLoop* loop, const TimeSource* time,
                                                                    const BackendTarget& target, net::Timer* timer,
                                                                    ConnectorClient* client, char* scratch,
                                                                    size_t scratch_size, bool require_capability,
                                                                    std::string proxy_header) {
  if (timer == nullptr || client == nullptr) return Status(StatusCode::kInvalidArgument, "connector without timer or client");
  std::unique_ptr<BackendConnector> c(
      new BackendConnector(time, target, timer, client, scratch, scratch_size, require_capability));
  if (target.send_proxy_v2) {
    c->proxy_header_ = proxy_header.empty() ? proxyproto::EncodeV2Local() : std::move(proxy_header);
  }
  c->Begin(loop);
  return c;
}

BackendConnector::~BackendConnector() = default;

void BackendConnector::Begin(net::EventLoop* loop) {
  auto fd = net::StartConnect(target_.address);
  if (!fd.ok()) {
    Fail(fd.status().message());
    return;
  }
  auto conn = net::BufferedConnection::Create(loop, net::MakePlainTransport(fd->release()), this);
  if (!conn.ok()) {
    Fail(conn.status().message());
    return;
  }
  conn_ = std::move(*conn);
  state_ = State::kConnecting;
  connect_started_ = time_->MonotonicNow();
  timer_->Arm(std::min(target_.connect_timeout, target_.login_timeout));
  // Over implicit TLS we speak first, so we wait until the socket is writable. Otherwise the
  // backend speaks first: waiting for its greeting also tells us the connect completed (a
  // failed connect reports readable too), which saves an epoll round and two epoll_ctl calls.
  // A PROXY header goes first too.
  if (target_.security == BackendSecurityMode::kTls || !proxy_header_.empty()) {
    conn_.watcher().WantWrite(true);
  } else {
    conn_.watcher().WantRead(true);
  }
}

void BackendConnector::OnTimer() {
  if (state_ == State::kDone) return;
  // Before the greeting arrives we cannot tell from readiness whether the connect completed:
  // a connected socket (getpeername succeeds) waiting for its greeting is on the login clock,
  // which runs from the start of the connect.
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(time_->MonotonicNow() - connect_started_);
  if (state_ == State::kConnecting && target_.security != BackendSecurityMode::kTls &&
      net::TakeSocketError(conn_.fd()) == 0 && net::PeerAddress(conn_.fd()).length > 0) {
    if (elapsed < target_.login_timeout) {
      timer_->Arm(target_.login_timeout - elapsed);
      return;
    }
    Fail("login timeout");
    return;
  }
  if (state_ == State::kConnecting && elapsed < target_.connect_timeout) {
    timer_->Arm(target_.connect_timeout - elapsed);
    return;
  }
  Fail(state_ == State::kConnecting ? "connect timeout" : "login timeout");
}

void BackendConnector::OnIo(net::IoWatcher*, bool readable, bool writable) {
  switch (state_) {
    case State::kDone:
      return;
    case State::kConnecting:
      if (!writable && !readable) return;
      if (int err = net::TakeSocketError(conn_.fd()); err != 0) {
        Fail(std::string("connect: ") + strerror(err));
        return;
      }
      OnConnected();
      if (state_ != State::kGreeting || !readable) return;
      break;  // the greeting is here already: read it in this callback
    case State::kHandshake:
      DoHandshake(State::kGreeting);
      return;
    case State::kStartTlsHandshake:
      DoHandshake(State::kCapability);
      return;
    default:
      break;
  }
  if (conn_.ShouldFlush(readable, writable) && !FlushOutput()) return;
  if (conn_.ShouldRead(readable, writable) && !ReadLines()) return;
  UpdateInterest();
}

void BackendConnector::OnConnected() {
  // The login clock starts when the connect is seen complete: writable (implicit TLS) or the
  // first greeting bytes. A backend that accepts but stays silent is caught by OnTimer().
  timer_->Arm(target_.login_timeout);
  if (!proxy_header_.empty()) {
    // A fresh connection's send buffer takes the whole header (at most a few hundred bytes) at
    // once; anything less is a broken connection.
    ssize_t n = ::send(conn_.fd(), proxy_header_.data(), proxy_header_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n != static_cast<ssize_t>(proxy_header_.size())) {
      Fail(std::string("PROXY header: ") + (n < 0 ? strerror(errno) : "short write"));
      return;
    }
    proxy_header_.clear();
  }
  if (target_.security == BackendSecurityMode::kTls) {
    state_ = State::kHandshake;
    if (!UpgradeToTls()) return;
    DoHandshake(State::kGreeting);
    return;
  }
  state_ = State::kGreeting;
  UpdateInterest();
}

bool BackendConnector::UpgradeToTls() {
  int fd = conn_.ReleaseFdForUpgrade();
  auto tls = tls::NewClientTransport(*target_.tls, fd, target_.server_name);
  if (!tls.ok()) {
    Fail(tls.status().message());
    return false;
  }
  tls_ = tls->get();
  conn_.SetTransport(std::move(*tls));
  return true;
}

void BackendConnector::DoHandshake(State next) {
  net::IoResult r = tls_->Handshake();
  if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) {
    conn_.watcher().WantRead(r.status == net::IoStatus::kWantRead);
    conn_.watcher().WantWrite(r.status == net::IoStatus::kWantWrite);
    return;
  }
  if (r.status != net::IoStatus::kOk) {
    Fail("backend TLS handshake: " + tls_->failure_reason());
    return;
  }
  state_ = next;
  if (next == State::kCapability) {
    capabilities_.clear();  // fetch again: pre-TLS capabilities are not trusted
    if (!Send("A1 CAPABILITY\r\n")) return;
  }
  if (tls_->HasBufferedInput() && !ReadLines()) return;
  UpdateInterest();
}

bool BackendConnector::ReadLines() {
  for (int round = 0; round < 16; ++round) {
    net::IoResult r = conn_.Read(scratch_, scratch_size_);
    // WANT_WRITE: TLS must write before it can read; the interest retries on writability.
    if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) return true;
    if (r.status != net::IoStatus::kOk) {
      Fail(r.status == net::IoStatus::kEof ? "backend closed the connection" : "backend read error");
      return false;
    }
    input_.append(scratch_, r.bytes);
    for (;;) {
      size_t nl = input_.find('\n');
      if (nl == std::string::npos) break;
      if (nl > target_.max_line_bytes) {
        Fail("backend response line too long");
        return false;
      }
      std::string line = input_.substr(0, nl);
      input_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!HandleLine(line)) return false;
      if (state_ == State::kDone || state_ == State::kStartTlsHandshake) return false;
    }
    if (input_.size() > target_.max_line_bytes) {
      Fail("backend response line too long");
      return false;
    }
    // Done when TLS holds nothing more; a short read also means the socket is drained.
    if (!conn_.transport().HasBufferedInput() && r.bytes < scratch_size_) return true;
  }
  conn_.watcher().ActivateRead();
  return true;
}

bool BackendConnector::HandleLine(std::string_view raw) {
  imap::ResponseLine line = imap::ParseResponseLine(raw);
  if (line.ends_with_literal) {
    Fail("backend sent a literal before login");
    return false;
  }
  if (line.kind == imap::ResponseKind::kUntagged) {
    if (line.status == imap::ResponseStatus::kBye) {
      Fail("backend said BYE");
      return false;
    }
    if (line.untagged_name == "CAPABILITY") capabilities_ = line.rest;
    if (line.code == "CAPABILITY") capabilities_ = line.code_args;
  }
  switch (state_) {
    case State::kGreeting:
      if (line.kind != imap::ResponseKind::kUntagged || line.status == imap::ResponseStatus::kOther) {
        Fail("backend greeting is not IMAP");
        return false;
      }
      if (line.status == imap::ResponseStatus::kPreAuth) {
        Fail("backend greeting is PREAUTH");
        return false;
      }
      if (line.status != imap::ResponseStatus::kOk) {
        Fail("backend greeting is not OK");
        return false;
      }
      if (target_.security == BackendSecurityMode::kStartTls) {
        if (!capabilities_.empty() && !HasCapability(capabilities_, "STARTTLS")) {
          Fail("Remote doesn't support STARTTLS");
          return false;
        }
        state_ = State::kStartTlsReply;
        return Send("A0 STARTTLS\r\n");
      }
      if (require_capability_ && capabilities_.empty()) {
        state_ = State::kCapability;
        return Send("A1 CAPABILITY\r\n");
      }
      Ready();
      return false;
    case State::kStartTlsReply:
      if (line.kind != imap::ResponseKind::kTagged) return true;
      if (line.tag != "A0" || line.status != imap::ResponseStatus::kOk) {
        Fail("backend refused STARTTLS");
        return false;
      }
      input_.clear();  // never trust bytes that arrived in plaintext after the STARTTLS OK
      state_ = State::kStartTlsHandshake;
      if (UpgradeToTls()) DoHandshake(State::kCapability);
      return false;
    case State::kCapability:
      if (line.kind != imap::ResponseKind::kTagged) return true;
      if (line.tag != "A1" || line.status != imap::ResponseStatus::kOk) {
        Fail("backend CAPABILITY failed");
        return false;
      }
      Ready();
      return false;
    default:
      return true;
  }
}

bool BackendConnector::Send(std::string_view command) {
  conn_.Queue(command);
  return FlushOutput();
}

bool BackendConnector::FlushOutput() {
  if (conn_.Flush() == net::IoStatus::kError) {
    Fail("backend write error");
    return false;
  }
  return true;
}

void BackendConnector::UpdateInterest() {
  if (state_ == State::kDone || !conn_.open()) return;
  // Read always; write when queued bytes are blocked or a TLS read must write first.
  conn_.UpdateInterest(true);
}

void BackendConnector::Ready() {
  state_ = State::kDone;
  BackendConnection c;
  // Interest is handed over as it is (read armed): the next owner sets what it needs.
  conn_.watcher().WantWrite(false);
  conn_.watcher().set_handler(nullptr);
  c.connection = std::move(conn_);
  c.tls = tls_;
  tls_ = nullptr;
  c.capabilities = std::move(capabilities_);
  c.input = std::move(input_);
  client_->OnBackendReady(std::move(c));  // nothing follows: the client may own us
}

void BackendConnector::Fail(std::string detail) {
  if (state_ == State::kDone) return;
  state_ = State::kDone;
  timer_->Cancel();
  conn_.StopWatching();
  client_->OnBackendFailed(std::move(detail));
}

}  // namespace imapgate::upstream
