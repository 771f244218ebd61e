#include "bench/loadgen/session.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "bench/loadgen/worker.h"

namespace imapgate::bench {
namespace {

constexpr uint64_t kSessionTimeoutUs = 30ull * 1000 * 1000;

// IMAP quoted string (the options refuse CR/LF, so quoting is always possible).
void AppendQuoted(std::string* out, const std::string& s) {
  out->push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace

Session::Session(Worker* worker, uint64_t index) : worker_(worker), index_(index) {}

Session::~Session() {
  if (event_ != nullptr) event_free(event_);
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) close(fd_);
}

void Session::Start() {
  start_us_ = NowMicros();
  deadline_us_ = start_us_ + kSessionTimeoutUs;
  socklen_t len = 0;
  const sockaddr_storage& target = worker_->target(&len);
  fd_ = socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return Fail(FailReason::kConnect);
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int source_addrs = worker_->opts().source_addrs;
  if (source_addrs > 1) {
    // Let connect() pick the port so the 4-tuple, not the port alone, must be unique.
    setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7F000001u + static_cast<uint32_t>(index_ % source_addrs));
    if (bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      return Fail(FailReason::kConnect);
    }
  }
  event_ = event_new(worker_->base(), fd_, EV_WRITE | EV_PERSIST, OnEventCallback, this);
  if (event_ == nullptr) return Fail(FailReason::kConnect);
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&target), len) == 0) return OnConnected();
  if (errno != EINPROGRESS) return Fail(FailReason::kConnect);
  Arm(false, true);
}

void Session::OnEventCallback(int, short what, void* arg) {
  static_cast<Session*>(arg)->OnEvent(what);
}

void Session::Arm(bool read, bool write) {
  short want = static_cast<short>((read ? EV_READ : 0) | (write ? EV_WRITE : 0));
  if (want == armed_) return;
  event_del(event_);
  event_assign(event_, worker_->base(), fd_, want | EV_PERSIST, OnEventCallback, this);
  if (want != 0) event_add(event_, nullptr);
  armed_ = want;
}

void Session::OnEvent(short what) {
  switch (state_) {
    case State::kDead:
      return;
    case State::kConnecting: {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        return Fail(FailReason::kConnect);
      }
      return OnConnected();
    }
    case State::kHandshake:
      return DriveHandshake();
    default:
      break;
  }
  if ((what & EV_WRITE) && !out_.empty()) {
    Flush();
    if (state_ == State::kDead) return;
  }
  if (what & EV_READ) ReadInput();
}

void Session::OnConnected() {
  if (worker_->opts().tls == TlsMode::kImplicit) return StartTls();
  state_ = State::kGreeting;
  Arm(true, false);
}

bool Session::NewSsl() {
  ssl_ = SSL_new(worker_->ssl_ctx());
  if (ssl_ == nullptr || !SSL_set_fd(ssl_, fd_)) return false;
  SSL_set_app_data(ssl_, static_cast<TicketSink*>(worker_));
  SSL_set_connect_state(ssl_);
  const Options& o = worker_->opts();
  if (!o.cafile.empty()) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), o.host.c_str());
  if (o.resume && worker_->cached_session() != nullptr) {
    SSL_set_session(ssl_, worker_->cached_session());
  }
  return true;
}

void Session::StartTls() {
  if (!NewSsl()) return Fail(FailReason::kTls);
  state_ = State::kHandshake;
  DriveHandshake();
}

void Session::SendLogin() {
  state_ = State::kLogin;
  std::string cmd = "LOGIN ";
  const auto& user = worker_->UserFor(index_);
  AppendQuoted(&cmd, user.first);
  cmd.push_back(' ');
  AppendQuoted(&cmd, user.second);
  SendCommand(cmd);
}

void Session::DriveHandshake() {
  int r = SSL_do_handshake(ssl_);
  if (r != 1) {
    int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ) return Arm(true, false);
    if (err == SSL_ERROR_WANT_WRITE) return Arm(false, true);
    return Fail(FailReason::kTls);
  }
  RunStats* stats = worker_->mutable_stats();
  if (SSL_session_reused(ssl_)) ++stats->resumed;
  const Options& o = worker_->opts();
  if (o.mode == Mode::kHandshake) {
    op_start_us_ = NowMicros();  // handshake done: the latency end point
    if (o.resume && worker_->cached_session() == nullptr) {
      // A TLS 1.3 ticket comes after the handshake, and a BoringSSL server sends it with its
      // first write: send one byte for the sink to echo (only until this thread has a ticket).
      state_ = State::kWaitTicket;
      Send("\n");
      if (state_ == State::kDead) return;
      return ReadInput();
    }
    return Succeed();
  }
  Arm(true, false);
  if (starttls_done_) return SendLogin();
  state_ = State::kGreeting;
  ReadInput();  // the greeting may already sit decrypted inside the SSL
}

void Session::ReadInput() {
  char* buf = worker_->read_buffer();
  size_t cap = worker_->read_buffer_size();
  for (;;) {
    ssize_t n;
    if (IsTls()) {
      int r = SSL_read(ssl_, buf, static_cast<int>(cap));
      if (r <= 0) {
        int err = SSL_get_error(ssl_, r);
        if (err == SSL_ERROR_WANT_READ) break;
        if (err == SSL_ERROR_WANT_WRITE) {
          Arm(true, true);
          break;
        }
        if (err == SSL_ERROR_ZERO_RETURN)
          n = 0;
        else
          return Fail(state_ == State::kWaitTicket ? FailReason::kTls : StateFailReason());
      } else {
        n = r;
      }
    } else {
      n = recv(fd_, buf, cap, 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        return Fail(StateFailReason());
      }
    }
    if (n == 0) {
      if (state_ == State::kLogout && bye_seen_) return Succeed();
      return Fail(StateFailReason());
    }
    if (state_ == State::kWaitTicket) continue;  // the echo: ignored
    std::string_view in(buf, static_cast<size_t>(n));
    size_t pos = 0;
    while (state_ != State::kDead) {
      ResponseScanner::Event ev = scanner_.Next(in, &pos);
      if (ev.kind == ResponseScanner::Kind::kNeedMore) break;
      if (ev.kind == ResponseScanner::Kind::kError) return Fail(FailReason::kProtocol);
      if (ev.kind == ResponseScanner::Kind::kLiteral) {
        literal_bytes_ += ev.literal_bytes;
        continue;
      }
      if (ev.response_start) HandleLine(ev.line);
      if (state_ == State::kHandshake) {
        // STARTTLS accepted: no plaintext byte may follow the tagged OK.
        if (pos != in.size() || !scanner_.at_boundary()) return Fail(FailReason::kTls);
        return DriveHandshake();
      }
    }
    if (state_ == State::kDead) return;
    if (!IsTls() && static_cast<size_t>(n) < cap) break;  // drained; spare a recv()
  }
  if (state_ == State::kWaitTicket && worker_->cached_session() != nullptr) return Succeed();
  if (state_ == State::kHeld) scanner_.ReleaseMemory();
}

void Session::HandleLine(std::string_view line) {
  LineInfo info = ClassifyLine(line);
  if (state_ == State::kGreeting) return OnGreeting(info);
  switch (info.type) {
    case LineInfo::Type::kContinuation:
      if (state_ == State::kIdleSent) {
        state_ = State::kHeld;
        deadline_us_ = 0;
        worker_->OnHeld(this);
        return;
      }
      return Fail(StateFailReason());
    case LineInfo::Type::kUntagged:
      if (info.status == LineInfo::Status::kBye) {
        if (state_ == State::kLogout) {
          bye_seen_ = true;
          return;
        }
        return Fail(StateFailReason());
      }
      return;  // CAPABILITY, EXISTS, FETCH ...: the literal bytes are counted by the scanner
    case LineInfo::Type::kTagged:
      if (info.tag != std::string_view(tag_, tag_len_)) return Fail(FailReason::kProtocol);
      return OnTagged(info);
  }
}

void Session::OnGreeting(const LineInfo& info) {
  if (info.type != LineInfo::Type::kUntagged || info.status != LineInfo::Status::kOk) {
    return Fail(FailReason::kGreeting);
  }
  if (worker_->opts().tls == TlsMode::kStarttls && !starttls_done_) {
    state_ = State::kStarttls;
    return SendCommand("STARTTLS");
  }
  SendLogin();
}

void Session::OnTagged(const LineInfo& info) {
  bool ok = info.status == LineInfo::Status::kOk;
  const Options& o = worker_->opts();
  switch (state_) {
    case State::kStarttls:
      if (!ok) return Fail(FailReason::kTls);
      starttls_done_ = true;
      if (!NewSsl()) return Fail(FailReason::kTls);
      state_ = State::kHandshake;  // ReadInput checks the buffer, then drives TLS
      return;
    case State::kLogin:
      if (!ok) return Fail(FailReason::kLogin);
      if (o.mode == Mode::kNoop) {
        state_ = State::kWarm;
        deadline_us_ = 0;
        return worker_->OnWarm(this);
      }
      state_ = State::kSelect;
      return SendCommand("SELECT INBOX");
    case State::kSelect:
      if (!ok) return Fail(FailReason::kSelect);
      worker_->mutable_stats()->selected++;
      if (o.mode == Mode::kLogin) return Logout();  // a full session: LOGIN, SELECT, LOGOUT
      if (o.mode == Mode::kIdle) {
        state_ = State::kIdleSent;
        return SendCommand("IDLE");
      }
      state_ = State::kWarm;
      deadline_us_ = 0;
      return worker_->OnWarm(this);
    case State::kIdleSent:
    case State::kDoneSent:
      if (!ok || state_ == State::kIdleSent) return Fail(FailReason::kIdle);
      return Logout();
    case State::kOp: {
      bool fetch = o.mode == Mode::kFetch;
      if (!ok || (fetch && literal_bytes_ == 0)) {
        return Fail(fetch ? FailReason::kFetch : FailReason::kProtocol);
      }
      RunStats* stats = worker_->mutable_stats();
      stats->latency.Record(NowMicros() - op_start_us_);
      ++stats->ops;
      stats->fetch_bytes += literal_bytes_;
      return NextOp();
    }
    case State::kLogout:
      if (!ok) return Fail(FailReason::kProtocol);
      return Succeed();
    default:
      return Fail(FailReason::kProtocol);
  }
}

void Session::SendCommand(std::string_view body) {
  tag_len_ = static_cast<uint8_t>(std::snprintf(tag_, sizeof tag_, "a%u", ++tag_counter_));
  std::string line;
  line.reserve(tag_len_ + 1 + body.size() + 2);
  line.append(tag_, tag_len_).append(" ").append(body).append("\r\n");
  Send(line);
}

void Session::Send(std::string_view data) {
  if (!out_.empty()) {
    out_.append(data);
    return;
  }
  out_.assign(data);
  Flush();
}

void Session::Flush() {
  size_t done = 0;
  while (done < out_.size()) {
    const char* p = out_.data() + done;
    size_t len = out_.size() - done;
    if (IsTls()) {
      int r = SSL_write(ssl_, p, static_cast<int>(len));
      if (r <= 0) {
        int err = SSL_get_error(ssl_, r);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) break;
        return Fail(StateFailReason());
      }
      done += static_cast<size_t>(r);
    } else {
      ssize_t r = send(fd_, p, len, MSG_NOSIGNAL);
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        return Fail(StateFailReason());
      }
      done += static_cast<size_t>(r);
    }
  }
  out_.erase(0, done);
  if (out_.empty()) std::string().swap(out_);  // hold no buffer while waiting
  Arm(true, !out_.empty());
}

void Session::Release() {
  if (state_ != State::kHeld) return;
  state_ = State::kDoneSent;
  deadline_us_ = NowMicros() + kSessionTimeoutUs;
  Send("DONE\r\n");  // the IDLE command's tag completes it
}

void Session::Go() {
  if (state_ != State::kWarm) return;
  NextOp();
}

void Session::NextOp() {
  if (!worker_->ClaimOp()) return Logout();
  state_ = State::kOp;
  op_start_us_ = NowMicros();
  deadline_us_ = op_start_us_ + kSessionTimeoutUs;
  literal_bytes_ = 0;
  if (worker_->opts().mode == Mode::kNoop) return SendCommand("NOOP");
  char cmd[64];
  std::snprintf(cmd, sizeof cmd, "UID FETCH %lld BODY.PEEK[]",
                static_cast<long long>(worker_->opts().fetch_uid));
  SendCommand(cmd);
}

void Session::Logout() {
  state_ = State::kLogout;
  if (deadline_us_ == 0) deadline_us_ = NowMicros() + kSessionTimeoutUs;
  SendCommand("LOGOUT");
}

void Session::Abort(FailReason reason) {
  if (state_ != State::kDead) Fail(reason);
}

void Session::Succeed() {
  if (worker_->opts().mode == Mode::kLogin) {
    worker_->mutable_stats()->latency.Record(NowMicros() - start_us_);
  } else if (worker_->opts().mode == Mode::kHandshake) {
    worker_->mutable_stats()->latency.Record(op_start_us_ - start_us_);
  }
  Finish(true, FailReason::kCount);
}

void Session::Fail(FailReason reason) { Finish(false, reason); }

void Session::Finish(bool ok, FailReason reason) {
  if (state_ == State::kDead) return;
  state_ = State::kDead;
  if (ssl_ != nullptr) {
    if (ok) SSL_shutdown(ssl_);  // one close_notify, no wait
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (event_ != nullptr) {
    event_free(event_);
    event_ = nullptr;
  }
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  std::string().swap(out_);
  worker_->OnFinished(this, ok, reason);
}

FailReason Session::StateFailReason() const {
  switch (state_) {
    case State::kConnecting:
      return FailReason::kConnect;
    case State::kHandshake:
    case State::kWaitTicket:
    case State::kStarttls:
      return FailReason::kTls;
    case State::kGreeting:
      return FailReason::kGreeting;
    case State::kLogin:
      return FailReason::kLogin;
    case State::kSelect:
      return FailReason::kSelect;
    case State::kIdleSent:
    case State::kHeld:
    case State::kDoneSent:
      return FailReason::kIdle;
    case State::kOp:
      return worker_->opts().mode == Mode::kFetch ? FailReason::kFetch : FailReason::kProtocol;
    default:
      return FailReason::kProtocol;
  }
}

}  // namespace imapgate::bench
