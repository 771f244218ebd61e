// imapgate-login-flood: offers IMAP logins over implicit TLS at a fixed rate (open loop) and counts
// how they end. The C++ twin of bench/login_flood (same behaviour, same JSON), at a fraction of
// its CPU: one thread, one libevent loop, connection slots reused from a free list, and TLS
// session resumption (one SSL_SESSION from the first full handshake, offered on every later one;
// imapgate's server issues stateless tickets).
//
// Every 1/rate seconds (absolute schedule, no drift: a late tick starts every attempt that is due)
// a new connection starts: TCP, TLS handshake, greeting, `a LOGIN "user" "password"`, its tagged
// answer; after an OK, `b LOGOUT` and its tagged answer (or the server's close). Attempts in
// flight are never waited for. Users are <prefix><N>@<domain>, N in [first, first+count): one
// whose login was accepted is never used again (so no login of the flood hits imapgate's auth
// cache); a refused or failed one goes back to the end of the pool of fresh users.
//
// The password is the first line of stdin (never argv). Runs until --seconds have passed or
// SIGTERM/SIGINT; then it stops offering, closes the attempts still in flight ("cut") and prints
// one JSON line: offered, seconds, offered_per_s, ok, unavailable, unavailable_after_1s,
// no_other, errors, cut, no_fresh_user, ok_ms, unavailable_ms ({n, p50, p90, p99, max} of the
// time from LOGIN sent to its tagged answer), flood_cpu_s (this process's CPU seconds), and
// tls_handshakes, resumed, resumed_fraction. Exit status 0, or 2 on a usage error, 1 on setup.
//
//   imapgate-login-flood --port P --cafile CA [--host 127.0.0.1] [--users-prefix flood]
//       [--domain bench.test] [--first 0] [--count 400] [--rate 200] [--seconds 60]
//       [--no-resume] < password-file
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "bench/loadgen/tls_client.h"

namespace imapgate::bench {
namespace {

constexpr int kMaxCount = 1000000;
constexpr double kMaxRate = 20000;
constexpr double kMaxSeconds = 86400;
constexpr size_t kMaxName = 200;      // --users-prefix, --domain
constexpr size_t kMaxPassword = 1000;
constexpr size_t kLineMax = 4096;     // a longer server line ends the attempt (an error)
constexpr uint64_t kConnectTlsTimeoutUs = 30'000'000;  // TCP + TLS, as bench/login_flood
constexpr uint64_t kGreetingTimeoutUs = 30'000'000;
constexpr uint64_t kAnswerTimeoutUs = 60'000'000;      // LOGIN's tagged answer
constexpr uint64_t kLogoutTimeoutUs = 30'000'000;

uint64_t NowUs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct FloodOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string cafile;
  std::string prefix = "flood";
  std::string domain = "bench.test";
  long first = 0;
  long count = 400;
  double rate = 200;
  double seconds = 60;
  bool resume = true;
};

// A name part of the users: printable ASCII, no space, quote or backslash.
bool PlainName(const std::string& s) {
  if (s.empty() || s.size() > kMaxName) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

// Parses argv; the options or one error message. Every number is bounded.
std::variant<FloodOptions, std::string> ParseFloodOptions(int argc, char** argv) {
  FloodOptions o;
  auto number = [](const char* s, double lo, double hi, double* out) {
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-resume") {
      o.resume = false;
      continue;
    }
    if (i + 1 >= argc) return "missing value for " + a;
    const char* v = argv[++i];
    double d = 0;
    if (a == "--host") {
      in_addr addr{};
      if (inet_pton(AF_INET, v, &addr) != 1 || (ntohl(addr.s_addr) >> 24) != 127) {
        return "--host must be an IPv4 loopback address (127.0.0.0/8)";
      }
      o.host = v;
    } else if (a == "--port") {
      if (!number(v, 1, 65535, &d) || d != std::floor(d)) return "--port: 1..65535";
      o.port = static_cast<int>(d);
    } else if (a == "--cafile") {
      o.cafile = v;
    } else if (a == "--users-prefix") {
      o.prefix = v;
      if (!PlainName(o.prefix)) return "--users-prefix: 1..200 printable characters, no space, quote or backslash";
    } else if (a == "--domain") {
      o.domain = v;
      if (!PlainName(o.domain)) return "--domain: 1..200 printable characters, no space, quote or backslash";
    } else if (a == "--first") {
      if (!number(v, 0, 1e9, &d) || d != std::floor(d)) return "--first: 0..1000000000";
      o.first = static_cast<long>(d);
    } else if (a == "--count") {
      if (!number(v, 1, kMaxCount, &d) || d != std::floor(d)) return "--count: 1..1000000";
      o.count = static_cast<long>(d);
    } else if (a == "--rate") {
      if (!number(v, 0.001, kMaxRate, &d)) return "--rate: 0.001..20000 per second";
      o.rate = d;
    } else if (a == "--seconds") {
      if (!number(v, 0.001, kMaxSeconds, &d)) return "--seconds: 0.001..86400";
      o.seconds = d;
    } else {
      return "unknown option " + a;
    }
  }
  if (o.port == 0) return "--port is required";
  if (o.cafile.empty()) return "--cafile is required";
  return o;
}

// Python's percentile of bench/login_flood (nearest rank, round half to even).
double Pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0.0;
  long n = static_cast<long>(sorted.size());
  long k = static_cast<long>(std::nearbyint(p / 100.0 * n + 0.5)) - 1;
  return sorted[static_cast<size_t>(std::max(0L, std::min(n - 1, k)))];
}

std::string Summary(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  char buf[200];
  std::snprintf(buf, sizeof buf, "{\"n\": %zu, \"p50\": %.2f, \"p90\": %.2f, \"p99\": %.2f, \"max\": %.2f}",
                ms.size(), Pct(ms, 50), Pct(ms, 90), Pct(ms, 99), ms.empty() ? 0.0 : ms.back());
  return buf;
}

class Flood;

enum class St { kFree, kConnecting, kHandshake, kGreeting, kLogin, kLogout };

// One attempt's connection. Slots are reused (their event, buffers and string capacity stay).
struct Conn {
  Flood* flood = nullptr;
  event* ev = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  St st = St::kFree;
  bool accepted = false;
  long user = 0;
  uint64_t deadline_us = 0;
  uint64_t login_sent_us = 0;
  std::string out;  // pending bytes (holds the password while LOGIN is unsent; wiped after)
  size_t out_off = 0;
  size_t in_len = 0;
  char in[kLineMax];
};

class Flood : public TicketSink {
 public:
  Flood(const FloodOptions& o, std::string password, SSL_CTX* ctx)
      : o_(o), password_(std::move(password)), ctx_(ctx) {}
  ~Flood() override {
    for (auto& c : conns_) {
      if (c->ev != nullptr) event_free(c->ev);
    }
    if (kept_ != nullptr) SSL_SESSION_free(kept_);
    for (event* e : {tick_, sigterm_, sigint_}) {
      if (e != nullptr) event_free(e);
    }
    if (base_ != nullptr) event_base_free(base_);
    OPENSSL_cleanse(password_.data(), password_.size());
  }

  std::string Init() {
    base_ = event_base_new();
    if (base_ == nullptr) return "event_base_new failed";
    auto* sa = reinterpret_cast<sockaddr_in*>(&target_);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(static_cast<uint16_t>(o_.port));
    inet_pton(AF_INET, o_.host.c_str(), &sa->sin_addr);
    ring_.resize(static_cast<size_t>(o_.count));
    for (long i = 0; i < o_.count; ++i) ring_[static_cast<size_t>(i)] = o_.first + i;
    fresh_ = ring_.size();
    ok_ms_.reserve(1 << 14);
    unavail_ms_.reserve(1 << 16);
    tick_ = evtimer_new(base_, OnTick, this);
    sigterm_ = evsignal_new(base_, SIGTERM, OnSignal, this);
    sigint_ = evsignal_new(base_, SIGINT, OnSignal, this);
    if (tick_ == nullptr || sigterm_ == nullptr || sigint_ == nullptr) return "event_new failed";
    event_add(sigterm_, nullptr);
    event_add(sigint_, nullptr);
    return "";
  }

  void Run() {
    start_us_ = NowUs();
    end_us_ = start_us_ + static_cast<uint64_t>(o_.seconds * 1e6);
    Tick();
    event_base_dispatch(base_);
  }

  std::string Report() const {
    double elapsed = (stop_us_ - start_us_) / 1e6;
    long after_1s = std::count_if(unavail_ms_.begin(), unavail_ms_.end(), [](double ms) { return ms > 1000; });
    char buf[600];
    std::snprintf(buf, sizeof buf,
                  "{\"offered\": %ld, \"seconds\": %.3f, \"offered_per_s\": %.1f, \"ok\": %ld, "
                  "\"unavailable\": %zu, \"unavailable_after_1s\": %ld, \"no_other\": %ld, \"errors\": %ld, "
                  "\"cut\": %ld, \"no_fresh_user\": %ld, ",
                  offered_, elapsed, elapsed > 0 ? offered_ / elapsed : 0.0, ok_, unavail_ms_.size(), after_1s,
                  no_other_, errors_, cut_, no_fresh_user_);
    std::string out = buf;
    out += "\"ok_ms\": " + Summary(ok_ms_) + ", \"unavailable_ms\": " + Summary(unavail_ms_);
    std::snprintf(buf, sizeof buf,
                  ", \"flood_cpu_s\": %.3f, \"generator\": \"imapgate-login-flood\", \"resume\": %s, "
                  "\"tls_handshakes\": %ld, \"resumed\": %ld, \"resumed_fraction\": %.4f, \"slots\": %zu}",
                  CpuSeconds(), o_.resume ? "true" : "false", handshakes_, resumed_,
                  handshakes_ ? static_cast<double>(resumed_) / handshakes_ : 0.0, conns_.size());
    return out + buf;
  }

  // TicketSink: keeps the first session (and takes a new one when the kept one stopped resuming).
  void OnNewSession(SSL_SESSION* session) override {
    if (kept_ == nullptr || kept_stale_) {
      if (kept_ != nullptr) SSL_SESSION_free(kept_);
      kept_ = session;
      kept_stale_ = false;
      return;
    }
    SSL_SESSION_free(session);
  }

 private:
  static void OnTick(evutil_socket_t, short, void* arg) { static_cast<Flood*>(arg)->Tick(); }
  static void OnSignal(evutil_socket_t, short, void* arg) { static_cast<Flood*>(arg)->Stop(); }
  static void OnConnEvent(evutil_socket_t, short what, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    c->flood->Drive(c, what);
  }

  // Starts every attempt that is due and sleeps until the next one (or the end).
  void Tick() {
    if (stopping_) return;
    uint64_t now = NowUs();
    if (now >= end_us_) return Stop();
    double interval_us = 1e6 / o_.rate;
    while (start_us_ + static_cast<uint64_t>(offered_ * interval_us) <= now) Spawn();
    uint64_t next = std::min(end_us_, start_us_ + static_cast<uint64_t>(offered_ * interval_us));
    timeval tv{};
    uint64_t wait = next > now ? next - now : 0;
    tv.tv_sec = static_cast<time_t>(wait / 1'000'000);
    tv.tv_usec = static_cast<suseconds_t>(wait % 1'000'000);
    evtimer_add(tick_, &tv);
  }

  void Stop() {
    if (stopping_) return;
    stopping_ = true;
    stop_us_ = NowUs();
    evtimer_del(tick_);
    for (auto& c : conns_) {
      if (c->st == St::kFree) continue;
      ++cut_;
      End(c.get());
    }
    event_base_loopbreak(base_);
  }

  Conn* Acquire() {
    if (!free_.empty()) {
      Conn* c = free_.back();
      free_.pop_back();
      return c;
    }
    conns_.push_back(std::make_unique<Conn>());
    Conn* c = conns_.back().get();
    c->flood = this;
    c->ev = event_new(base_, -1, 0, OnConnEvent, c);
    return c->ev != nullptr ? c : nullptr;
  }

  void Spawn() {
    ++offered_;
    if (fresh_ == 0) {
      ++no_fresh_user_;
      return;
    }
    Conn* c = Acquire();
    if (c == nullptr) {
      ++errors_;
      return;
    }
    c->user = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
    --fresh_;
    c->accepted = false;
    c->in_len = 0;
    c->out.clear();
    c->out_off = 0;
    c->st = St::kConnecting;
    c->deadline_us = NowUs() + kConnectTlsTimeoutUs;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return Fail(c);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, reinterpret_cast<const sockaddr*>(&target_), sizeof(sockaddr_in)) == 0) {
      return StartTls(c);
    }
    if (errno != EINPROGRESS) return Fail(c);
    Arm(c, EV_WRITE);
  }

  void Arm(Conn* c, short what) {
    event_del(c->ev);
    event_assign(c->ev, base_, c->fd, what, OnConnEvent, c);
    uint64_t now = NowUs();
    uint64_t left = c->deadline_us > now ? c->deadline_us - now : 0;
    timeval tv{static_cast<time_t>(left / 1'000'000), static_cast<suseconds_t>(left % 1'000'000)};
    event_add(c->ev, &tv);
  }

  void Drive(Conn* c, short what) {
    if (c->st == St::kFree) return;
    if (what & EV_TIMEOUT) return Fail(c);
    switch (c->st) {
      case St::kConnecting: {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return Fail(c);
        return StartTls(c);
      }
      case St::kHandshake:
        return Handshake(c);
      default:
        if (c->out_off < c->out.size() && !Flush(c)) return;
        return ReadLines(c);
    }
  }

  void StartTls(Conn* c) {
    c->ssl = SSL_new(ctx_);
    if (c->ssl == nullptr || !SSL_set_fd(c->ssl, c->fd)) return Fail(c);
    SSL_set_app_data(c->ssl, static_cast<TicketSink*>(this));
    SSL_set_connect_state(c->ssl);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), o_.host.c_str());
    if (o_.resume && kept_ != nullptr) SSL_set_session(c->ssl, kept_);
    c->st = St::kHandshake;
    Handshake(c);
  }

  void Handshake(Conn* c) {
    int r = SSL_do_handshake(c->ssl);
    if (r != 1) {
      int err = SSL_get_error(c->ssl, r);
      if (err == SSL_ERROR_WANT_READ) return Arm(c, EV_READ);
      if (err == SSL_ERROR_WANT_WRITE) return Arm(c, EV_WRITE);
      return Fail(c);
    }
    ++handshakes_;
    if (SSL_session_reused(c->ssl)) {
      ++resumed_;
    } else if (o_.resume && kept_ != nullptr) {
      kept_stale_ = true;  // offered and refused: keep the next ticket instead
    }
    c->st = St::kGreeting;
    c->deadline_us = NowUs() + kGreetingTimeoutUs;
    ReadLines(c);  // the greeting may already sit decrypted in the SSL
  }

  // Writes what is pending; false if the attempt ended.
  bool Flush(Conn* c) {
    while (c->out_off < c->out.size()) {
      int r = SSL_write(c->ssl, c->out.data() + c->out_off, static_cast<int>(c->out.size() - c->out_off));
      if (r <= 0) {
        int err = SSL_get_error(c->ssl, r);
        if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) return true;
        Fail(c);
        return false;
      }
      c->out_off += static_cast<size_t>(r);
    }
    OPENSSL_cleanse(c->out.data(), c->out.size());
    c->out.clear();
    c->out_off = 0;
    return true;
  }

  void Send(Conn* c, std::string_view tag, std::string_view verb, bool login) {
    c->out.assign(tag).append(" ").append(verb);
    if (login) {
      char user[16];
      std::snprintf(user, sizeof user, "%ld", c->user);
      c->out.append(" \"").append(o_.prefix).append(user).append("@").append(o_.domain).append("\" \"");
      for (char ch : password_) {
        if (ch == '"' || ch == '\\') c->out.push_back('\\');
        c->out.push_back(ch);
      }
      c->out.push_back('"');
    }
    c->out.append("\r\n");
    c->out_off = 0;
  }

  void ReadLines(Conn* c) {
    for (;;) {
      if (c->in_len == kLineMax) return Fail(c);  // no line end within the bound
      int r = SSL_read(c->ssl, c->in + c->in_len, static_cast<int>(kLineMax - c->in_len));
      if (r <= 0) {
        int err = SSL_get_error(c->ssl, r);
        if (err == SSL_ERROR_WANT_READ) {
          return Arm(c, static_cast<short>(EV_READ | (c->out_off < c->out.size() ? EV_WRITE : 0)));
        }
        if (err == SSL_ERROR_WANT_WRITE) return Arm(c, EV_WRITE);
        if (c->st == St::kLogout) return End(c);  // the server closed after its BYE
        return Fail(c);
      }
      c->in_len += static_cast<size_t>(r);
      size_t start = 0;
      while (true) {
        char* nl = static_cast<char*>(std::memchr(c->in + start, '\n', c->in_len - start));
        if (nl == nullptr) break;
        std::string_view line(c->in + start, static_cast<size_t>(nl - (c->in + start)));
        start = static_cast<size_t>(nl - c->in) + 1;
        if (!OnLine(c, line)) return;
      }
      if (start > 0) {
        std::memmove(c->in, c->in + start, c->in_len - start);
        c->in_len -= start;
      }
      if (c->out_off < c->out.size() && !Flush(c)) return;
    }
  }

  // One server line; false if the attempt ended.
  bool OnLine(Conn* c, std::string_view line) {
    auto starts = [&](std::string_view p) { return line.substr(0, p.size()) == p; };
    switch (c->st) {
      case St::kGreeting:
        if (!starts("* OK")) {
          Fail(c);
          return false;
        }
        Send(c, "a", "LOGIN", true);
        c->st = St::kLogin;
        c->login_sent_us = NowUs();
        c->deadline_us = c->login_sent_us + kAnswerTimeoutUs;
        return true;
      case St::kLogin: {
        if (!starts("a ")) return true;  // untagged (CAPABILITY ...)
        double ms = (NowUs() - c->login_sent_us) / 1000.0;
        if (starts("a OK")) {
          c->accepted = true;
          ++ok_;
          ok_ms_.push_back(ms);
          Send(c, "b", "LOGOUT", false);
          c->st = St::kLogout;
          c->deadline_us = NowUs() + kLogoutTimeoutUs;
          return true;
        }
        if (line.find("[UNAVAILABLE]") != std::string_view::npos) {
          unavail_ms_.push_back(ms);
        } else {
          ++no_other_;
        }
        End(c);
        return false;
      }
      case St::kLogout:
        if (!starts("b ")) return true;  // * BYE
        End(c);
        return false;
      default:
        Fail(c);
        return false;
    }
  }

  void Fail(Conn* c) {
    ++errors_;
    ERR_clear_error();
    End(c);
  }

  // Ends the attempt: a user not accepted goes back to the pool; the slot to the free list.
  void End(Conn* c) {
    if (!c->accepted) {
      ring_[(head_ + fresh_) % ring_.size()] = c->user;
      ++fresh_;
    }
    if (c->ssl != nullptr) {
      SSL_free(c->ssl);  // no close_notify: the close is enough for the server
      c->ssl = nullptr;
    }
    event_del(c->ev);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    if (!c->out.empty()) OPENSSL_cleanse(c->out.data(), c->out.size());
    c->out.clear();
    c->out_off = 0;
    c->st = St::kFree;
    free_.push_back(c);
  }

  FloodOptions o_;
  std::string password_;
  SSL_CTX* ctx_;
  event_base* base_ = nullptr;
  event* tick_ = nullptr;
  event* sigterm_ = nullptr;
  event* sigint_ = nullptr;
  sockaddr_storage target_{};
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> free_;
  std::vector<long> ring_;  // fresh users: fresh_ of them from head_, circular
  size_t head_ = 0;
  size_t fresh_ = 0;
  SSL_SESSION* kept_ = nullptr;
  bool kept_stale_ = false;
  uint64_t start_us_ = 0, end_us_ = 0, stop_us_ = 0;
  bool stopping_ = false;
  long offered_ = 0, ok_ = 0, no_other_ = 0, errors_ = 0, cut_ = 0, no_fresh_user_ = 0;
  long handshakes_ = 0, resumed_ = 0;
  std::vector<double> ok_ms_, unavail_ms_;
};

int Main(int argc, char** argv) {
  auto parsed = ParseFloodOptions(argc, argv);
  if (auto* err = std::get_if<std::string>(&parsed)) {
    std::fprintf(stderr, "imapgate-login-flood: %s (see the comment at the top of bench/flood/main.cc)\n",
                 err->c_str());
    return 2;
  }
  const FloodOptions& o = std::get<FloodOptions>(parsed);
  char line[kMaxPassword + 2];
  std::string password;
  if (std::fgets(line, sizeof line, stdin) != nullptr) {
    size_t n = std::strcspn(line, "\r\n");
    bool whole = line[n] != '\0' || std::feof(stdin);
    if (whole && n <= kMaxPassword) password.assign(line, n);
    OPENSSL_cleanse(line, sizeof line);
  }
  if (password.empty()) {
    std::fprintf(stderr, "imapgate-login-flood: the password (1..%zu bytes) goes on the first line of stdin\n",
                 kMaxPassword);
    return 2;
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);
  auto created = TlsClient::Create(o.cafile, o.resume, false);
  if (auto* e = std::get_if<std::string>(&created)) {
    std::fprintf(stderr, "imapgate-login-flood: %s\n", e->c_str());
    return 1;
  }
  std::unique_ptr<TlsClient> tls(std::get<TlsClient*>(created));
  SSL_CTX_set_min_proto_version(tls->ctx(), TLS1_3_VERSION);  // as bench/login_flood
  auto flood = std::make_unique<Flood>(o, std::move(password), tls->ctx());
  std::string err = flood->Init();
  if (!err.empty()) {
    std::fprintf(stderr, "imapgate-login-flood: %s\n", err.c_str());
    return 1;
  }
  flood->Run();
  std::printf("%s\n", flood->Report().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace imapgate::bench

int main(int argc, char** argv) { return imapgate::bench::Main(argc, argv); }
