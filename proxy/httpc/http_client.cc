#include "httpc/http_client.h"
#include "common/ascii.h"

#include <algorithm>
#include <cstring>

#include "httpc/http_response_parser.h"
#include "net/socket.h"
#include "tls/tls_context.h"
#include "tls/tls_transport.h"

namespace imapgate::httpc {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
    if (!ok) return false;
  }
  return true;
}

// Closes a connection after the current callback (a watcher is never freed inside its own).
void CloseLater(net::EventLoop* loop, net::BufferedConnection connection) {
  if (!connection.open()) return;
  connection.StopWatching();
  connection.DiscardOutput();
  auto holder = std::make_shared<net::BufferedConnection>(std::move(connection));
  loop->Defer([holder]() mutable { holder.reset(); });
}

milliseconds Remaining(Clock::time_point deadline, Clock::time_point now) {
  if (deadline <= now) return milliseconds(0);
  return std::max(milliseconds(1), std::chrono::ceil<milliseconds>(deadline - now));
}

}  // namespace

const SecretString* HttpResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (AsciiEqualsIgnoreCase(n, name)) return &v;
  }
  return nullptr;
}

// One request: connect (or reuse), TLS, write, read, deliver.
class HttpCallImpl final : public HttpCall, public net::IoHandler {
 public:
  HttpCallImpl(HttpClient* client, HttpRequest request, HttpClient::Done done)
      : client_(client),
        loop_(client->loop_),
        time_(client->time_),
        origin_(client->origin_),
        options_(client->options_),
        tls_ctx_(client->tls_),
        request_(std::move(request)),
        done_(std::move(done)),
        alive_(std::make_shared<int>(0)) {}

  ~HttpCallImpl() override {
    if (client_ != nullptr) {
      auto& v = client_->calls_;
      v.erase(std::remove(v.begin(), v.end(), this), v.end());
    }
  }

  void Start() {
    auto timer = net::Timer::Create(loop_, [this] { OnTimer(); });
    if (!timer.ok()) {
      // Without a timer nothing can be deferred safely but Defer itself.
      result_.emplace(timer.status());
      phase_ = Phase::kFinished;
      std::weak_ptr<int> weak = alive_;
      loop_->Defer([weak, this] {
        if (!weak.expired()) Deliver();
      });
      return;
    }
    timer_ = std::move(*timer);
    deadline_ = time_->MonotonicNow() + options_.request_timeout;
    Status valid = Validate();
    if (!valid.ok()) return Complete(valid);
    net::BufferedConnection idle;
    if (client_->TakeIdle(&idle)) {
      conn_ = std::move(idle);
      conn_.set_handler(this);
      reused_ = true;
      timer_->Arm(Remaining(deadline_, time_->MonotonicNow()));
      BeginSend();
      return;
    }
    Connect();
  }

  // The client is going away: cancel without calling done.
  void Detach() {
    client_ = nullptr;
    done_ = nullptr;
    alive_.reset();
    if (timer_) timer_->Cancel();
    CloseLater(loop_, std::move(conn_));
    phase_ = Phase::kFinished;
  }

  void OnIo(net::IoWatcher*, bool readable, bool writable) override {
    switch (phase_) {
      case Phase::kConnecting: {
        if (!readable && !writable) return;
        int err = net::TakeSocketError(conn_.fd());
        if (err != 0) return Complete(Unavailable("connect to " + origin_.Origin() + ": " + strerror(err)));
        if (origin_.scheme == Url::Scheme::kHttps) {
          if (!StartTls()) return;
          return DoHandshake();
        }
        return BeginSend();
      }
      case Phase::kHandshake:
        return DoHandshake();
      case Phase::kExchanging:
        if (conn_.ShouldFlush(readable, writable) && !FlushOutput()) return;
        if (conn_.ShouldRead(readable, writable) || conn_.HasBufferedInput()) ReadResponse();
        if (phase_ == Phase::kExchanging) conn_.UpdateInterest(true);
        return;
      case Phase::kFinished:
        return;
    }
  }

 private:
  enum class Phase { kConnecting, kHandshake, kExchanging, kFinished };

  Status Validate() const {
    if (!IsToken(request_.method)) return InvalidArgument("HTTP request method is not a token");
    for (char c : request_.path) {
      if (c <= 0x20 || c >= 0x7f) return InvalidArgument("HTTP request path has a space or control byte");
    }
    if (!request_.path.empty() && request_.path[0] != '/') return InvalidArgument("HTTP request path must start with '/'");
    for (const auto& [name, value] : request_.headers) {
      if (!IsToken(name)) return InvalidArgument("HTTP request header name is not a token");
      if (AsciiEqualsIgnoreCase(name, "Host") || AsciiEqualsIgnoreCase(name, "Content-Length") ||
          AsciiEqualsIgnoreCase(name, "Transfer-Encoding")) {
        return InvalidArgument("HTTP request header " + name + " is set by the client");
      }
      for (char c : value.view()) {
        if (c == '\r' || c == '\n' || c == '\0') return InvalidArgument("HTTP request header " + name + " has CR, LF or NUL");
      }
    }
    return Status::Ok();
  }

  void Connect() {
    reused_ = false;
    phase_ = Phase::kConnecting;
    auto fd = net::StartConnect(origin_.address);
    if (!fd.ok()) return Complete(Unavailable("connect to " + origin_.Origin() + " failed: " + fd.status().message()));
    auto conn = net::BufferedConnection::Create(loop_, net::MakePlainTransport(fd->release()), this);
    if (!conn.ok()) return Complete(conn.status());
    conn_ = std::move(*conn);
    conn_.watcher().WantWrite(true);
    connect_deadline_ = time_->MonotonicNow() + options_.connect_timeout;
    timer_->Arm(Remaining(std::min(connect_deadline_, deadline_), time_->MonotonicNow()));
  }

  bool StartTls() {
    conn_.watcher().WantWrite(false);
    int fd = conn_.ReleaseFdForUpgrade();
    std::string name = options_.server_name.empty() ? origin_.host : options_.server_name;
    auto tls = tls::NewClientTransport(*tls_ctx_, fd, name);
    if (!tls.ok()) {
      Complete(Unavailable("TLS to " + origin_.Origin() + ": " + tls.status().message()));
      return false;
    }
    tls_ = tls->get();
    conn_.SetTransport(std::move(*tls));
    phase_ = Phase::kHandshake;
    timer_->Arm(Remaining(deadline_, time_->MonotonicNow()));
    return true;
  }

  void DoHandshake() {
    net::IoResult r = tls_->Handshake();
    if (r.status == net::IoStatus::kOk) return BeginSend();
    if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) {
      conn_.watcher().WantRead(r.status == net::IoStatus::kWantRead);
      conn_.watcher().WantWrite(r.status == net::IoStatus::kWantWrite);
      return;
    }
    const std::string& why = tls_->failure_reason();
    if (why.find("CERTIFICATE_VERIFY_FAILED") != std::string::npos) {
      return Complete(Unavailable("TLS certificate verification failed for " + origin_.Origin() + " (" + why + ")"));
    }
    Complete(Unavailable("TLS handshake with " + origin_.Origin() + " failed: " + why));
  }

  void BeginSend() {
    phase_ = Phase::kExchanging;
    timer_->Arm(Remaining(deadline_, time_->MonotonicNow()));
    parser_ = std::make_unique<HttpResponseParser>(
        HttpResponseLimits{options_.max_response_header_bytes, 64, options_.max_response_body_bytes},
        AsciiEqualsIgnoreCase(request_.method, "HEAD"));
    WipingStringBase out;
    out.append(request_.method).append(" ");
    out.append(request_.path.empty() ? origin_.target : request_.path);
    out.append(" HTTP/1.1\r\nHost: ").append(origin_.HostHeader()).append("\r\n");
    for (const auto& [name, value] : request_.headers) {
      out.append(name).append(": ").append(value.view().data(), value.size()).append("\r\n");
    }
    bool post = AsciiEqualsIgnoreCase(request_.method, "POST") || AsciiEqualsIgnoreCase(request_.method, "PUT");
    if (!request_.body.empty() || post) out.append("Content-Length: ").append(std::to_string(request_.body.size())).append("\r\n");
    out.append("\r\n");
    out.append(request_.body.view().data(), request_.body.size());
    conn_.Queue(std::string_view(out.data(), out.size()));
    SecureWipe(out.data(), out.size());
    if (!FlushOutput()) return;
    // A reused connection may already hold the server's close (EOF): reading finds it.
    conn_.UpdateInterest(true);
  }

  bool FlushOutput() {
    net::IoStatus s = conn_.Flush();
    if (s == net::IoStatus::kError || s == net::IoStatus::kEof) {
      ConnectionLost("write to " + origin_.Origin() + " failed");
      return false;
    }
    return true;
  }

  void ReadResponse() {
    char buf[16384];
    for (;;) {
      net::IoResult r = conn_.Read(buf, sizeof buf);
      if (r.status == net::IoStatus::kOk) {
        size_t used = 0;
        HttpResponseParser::State s = parser_->Feed(std::string_view(buf, r.bytes), &used);
        bool extra = used < r.bytes;
        SecureWipe(buf, r.bytes);
        if (s == HttpResponseParser::State::kDone) return Succeed(!extra);
        if (s == HttpResponseParser::State::kError) return ParseFailed();
        continue;
      }
      if (r.status == net::IoStatus::kWantRead || r.status == net::IoStatus::kWantWrite) return;
      if (r.status == net::IoStatus::kEof) {
        if (!parser_->started()) return ConnectionLost("server " + origin_.Origin() + " closed the connection");
        HttpResponseParser::State s = parser_->Finish();
        if (s == HttpResponseParser::State::kDone) return Succeed(false);
        return ParseFailed();
      }
      if (!parser_->started()) return ConnectionLost("read from " + origin_.Origin() + " failed");
      return Complete(Unavailable("read from " + origin_.Origin() + " failed"));
    }
  }

  void ParseFailed() {
    const std::string& why = parser_->error_message();
    if (parser_->error() == HttpResponseParser::Error::kTooLarge) {
      return Complete(Status(StatusCode::kResourceExhausted, "response from " + origin_.Origin() + " too large: " + why));
    }
    if (parser_->error() == HttpResponseParser::Error::kTruncated) {
      return Complete(Unavailable("response from " + origin_.Origin() + " incomplete: " + why));
    }
    Complete(Unavailable("malformed response from " + origin_.Origin() + ": " + why));
  }

  // The connection failed before any response byte: a reused one gets one fresh retry.
  void ConnectionLost(std::string why) {
    if (reused_ && !retried_ && !(parser_ && parser_->started())) {
      retried_ = true;
      CloseLater(loop_, std::move(conn_));
      tls_ = nullptr;
      parser_.reset();
      return Connect();
    }
    Complete(Unavailable(std::move(why)));
  }

  void Succeed(bool reusable) {
    HttpResponse response;
    response.status = parser_->status();
    response.headers = parser_->TakeHeaders();
    response.body = parser_->TakeBody();
    bool keep = reusable && parser_->keep_alive() && !conn_.HasBufferedInput() && client_ != nullptr;
    if (keep) {
      tls_ = nullptr;
      client_->ReturnIdle(std::move(conn_));
    }
    Complete(std::move(response));
  }

  void OnTimer() {
    if (phase_ == Phase::kFinished) return;
    Clock::time_point now = time_->MonotonicNow();
    if (phase_ == Phase::kConnecting && now >= connect_deadline_ && connect_deadline_ < deadline_) {
      return Complete(Unavailable("connect to " + origin_.Origin() + " timed out"));
    }
    if (now < deadline_ && !(phase_ == Phase::kConnecting && now >= connect_deadline_)) {
      timer_->Arm(Remaining(deadline_, now));
      return;
    }
    Complete(Unavailable(std::string(phase_ == Phase::kConnecting ? "connect to " : "request to ") + origin_.Origin() +
                         " timed out"));
  }

  // Ends the call: closes its connection (unless it went back to the pool) and runs done from a
  // deferred call, outside this call's own callbacks, unless the call is destroyed first.
  void Complete(StatusOr<HttpResponse> result) {
    if (phase_ == Phase::kFinished) return;
    phase_ = Phase::kFinished;
    if (timer_) timer_->Cancel();
    CloseLater(loop_, std::move(conn_));
    tls_ = nullptr;
    result_.emplace(std::move(result));
    std::weak_ptr<int> weak = alive_;
    loop_->Defer([weak, this] {
      if (!weak.expired()) Deliver();
    });
  }

  void Deliver() {
    if (!done_ || !result_) return;
    HttpClient::Done done = std::move(done_);
    done_ = nullptr;
    StatusOr<HttpResponse> result = std::move(*result_);
    result_.reset();
    done(std::move(result));  // may destroy this call
  }

  HttpClient* client_;
  net::EventLoop* loop_;
  const TimeSource* time_;
  const Url origin_;
  const HttpClientOptions options_;
  std::shared_ptr<tls::TlsClientContext> tls_ctx_;
  HttpRequest request_;
  HttpClient::Done done_;
  std::shared_ptr<int> alive_;
  net::TimerPtr timer_;
  net::BufferedConnection conn_;
  tls::TlsTransport* tls_ = nullptr;
  std::unique_ptr<HttpResponseParser> parser_;
  Phase phase_ = Phase::kConnecting;
  bool reused_ = false;
  bool retried_ = false;
  Clock::time_point deadline_;
  Clock::time_point connect_deadline_;
  std::optional<StatusOr<HttpResponse>> result_;
};

class HttpClient::IdleHandler final : public net::IoHandler {
 public:
  explicit IdleHandler(HttpClient* client) : client_(client) {}
  void OnIo(net::IoWatcher* watcher, bool, bool) override { client_->OnIdleIo(watcher); }

 private:
  HttpClient* client_;
};

HttpClient::HttpClient(net::EventLoop* loop, const TimeSource* time, Url origin, HttpClientOptions options)
    : loop_(loop), time_(time), origin_(std::move(origin)), options_(std::move(options)),
      idle_handler_(std::make_unique<IdleHandler>(this)) {}

StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(net::EventLoop* loop, const TimeSource* time, Url origin,
                                                         HttpClientOptions options) {
  if (loop == nullptr || time == nullptr) return InvalidArgument("HTTP client without loop or clock");
  if (origin.needs_resolution) return InvalidArgument("HTTP client origin " + origin.host + " is not resolved");
  std::unique_ptr<HttpClient> c(new HttpClient(loop, time, std::move(origin), std::move(options)));
  if (c->origin_.scheme == Url::Scheme::kHttps) {
    auto ctx = tls::TlsClientContext::Create(c->options_.ca_file, c->options_.verify_peer);
    if (!ctx.ok()) return ctx.status();
    c->tls_ = std::move(*ctx);
  }
  auto timer = net::Timer::Create(loop, [raw = c.get()] { raw->SweepIdle(); });
  if (!timer.ok()) return timer.status();
  c->sweep_timer_ = std::move(*timer);
  return c;
}

HttpClient::~HttpClient() {
  for (HttpCallImpl* call : std::vector<HttpCallImpl*>(calls_)) call->Detach();
  calls_.clear();
  idle_.clear();
}

HttpCallPtr HttpClient::Send(HttpRequest request, Done done) {
  auto call = std::make_unique<HttpCallImpl>(this, std::move(request), std::move(done));
  calls_.push_back(call.get());
  call->Start();
  return call;
}

bool HttpClient::TakeIdle(net::BufferedConnection* out) {
  if (idle_.empty()) return false;
  *out = std::move(idle_.back().connection);
  idle_.pop_back();
  ArmSweep();
  return true;
}

void HttpClient::ReturnIdle(net::BufferedConnection connection) {
  if (idle_.size() >= options_.max_idle_connections) {
    CloseLater(loop_, std::move(connection));
    return;
  }
  connection.set_handler(idle_handler_.get());
  connection.watcher().WantWrite(false);
  connection.watcher().WantRead(true);
  idle_.push_back(IdleConnection{std::move(connection), time_->MonotonicNow() + options_.idle_timeout});
  ArmSweep();
}

void HttpClient::OnIdleIo(net::IoWatcher* watcher) {
  // An idle connection that becomes readable was closed by the server (or sent bytes nobody
  // asked for): either way it cannot carry another request.
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (it->connection.watcher_ptr() == watcher) {
      CloseLater(loop_, std::move(it->connection));
      idle_.erase(it);
      ArmSweep();
      return;
    }
  }
}

void HttpClient::SweepIdle() {
  Clock::time_point now = time_->MonotonicNow();
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (it->deadline <= now) {
      CloseLater(loop_, std::move(it->connection));
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  ArmSweep();
}

void HttpClient::ArmSweep() {
  if (idle_.empty()) {
    sweep_timer_->Cancel();
    return;
  }
  Clock::time_point earliest = idle_.front().deadline;
  for (const auto& c : idle_) earliest = std::min(earliest, c.deadline);
  sweep_timer_->Arm(Remaining(earliest, time_->MonotonicNow()));
}

}  // namespace imapgate::httpc
