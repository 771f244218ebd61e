// imapgate-attack: open-loop IMAP LOGINs over implicit TLS from chosen 127/8 source addresses,
// for bench/attack_cost (issue C's "good users' login latency under a password flood").
//
// Two roles, run as two processes so that neither delays the other's reads:
//   --role flood  every 1/--rate s (absolute schedule, never waiting for answers) a new
//                 connection from one of --addrs addresses counted up from --addr-base (e.g.
//                 127.10.0.0: 4096 addresses are 16 /24 subnets), TLS handshake, greeting,
//                 `a LOGIN user password` with a wrong password, its answer, close. The attempt
//                 is brute force (--brute-pct %: a user of --victims, a fresh password each time)
//                 or spraying (a user of --spray-users names, one of 8 common passwords); and
//                 --heavy-pct % of the attempts come from --heavy-addrs heavy hitters (the /24
//                 after the --addrs range), which reach the per-address tarpit and block. It
//                 counts how each ended: NO [AUTHENTICATIONFAILED], NO [UNAVAILABLE], NO [LIMIT],
//                 `* BYE` at connect (blocked / too many connections), closed, timeout; and the
//                 time from LOGIN to its answer (the tarpit shows as answers after > 1 s).
//   --role good   every 1/--rate s a login of the next user of --users-file (lines "user
//                 password source-address", mode 0600: passwords never go on argv) from its own
//                 address: connect, TLS handshake, greeting, LOGIN, tagged OK (the latency
//                 measured: connect start to the tagged OK; and LOGIN to OK), then LOGOUT.
//                 --count N stops after N logins (a warm-up: each user succeeds once from its
//                 address, so the defence remembers it).
// Runs for --seconds (or --count, or until SIGTERM/SIGINT), then closes what is in flight (cut;
// the good role first lets the logins it started finish, within --timeout)
// and prints one JSON line: the outcomes, latency percentiles (ms) and its own CPU seconds
// (it competes with imapgate for the same cores). One thread, libevent, BoringSSL; the target
// must be 127.0.0.0/8. Exit 0, or 2 on a usage error, 1 on a setup error.
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

constexpr size_t kMaxLine = 16384;
constexpr int kMaxAddrs = 1 << 20;

uint64_t NowMicros() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

struct Options {
  bool good = false;
  int port = 0;
  std::string cafile;
  double rate = 200;
  double seconds = 10;
  int64_t count = 0;  // 0: no bound
  double timeout_s = 30;
  int max_in_flight = 15000;
  // flood
  uint32_t addr_base = 0;
  int addrs = 4096;
  int brute_pct = 50;
  int heavy_pct = 0;    // attempts from the few heavy hitters
  int heavy_addrs = 16;  // in the /24 after the --addrs range
  std::vector<std::string> victims;
  int spray_users = 10000;
  std::string domain = "bench.test";
  uint64_t seed = 1;
  // good
  std::string users_file;
};

struct GoodUser {
  std::string user, password;
  uint32_t address = 0;
};

std::string Usage() {
  return "usage: imapgate-attack --role flood|good --port P [--cafile CA] [--rate R] [--seconds S]\n"
         "  [--count N] [--timeout S] [--max-in-flight N]\n"
         "  flood: --addr-base 127.A.B.C --addrs N [--brute-pct P] --victims u1,u2,..\n"
         "         [--heavy-pct P] [--heavy-addrs N]\n"
         "         [--spray-users N] [--domain D] [--seed N]\n"
         "  good:  --users-file F   (lines \"user password 127.x.y.z\")\n";
}

bool ParseV4(const std::string& s, uint32_t* out) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return false;
  *out = ntohl(a.s_addr);
  return (*out >> 24) == 127;
}

// Where the heavy hitters start: the /24 after the --addrs range.
uint32_t HeavyOffset(const Options& o) { return (static_cast<uint32_t>(o.addrs) + 255u) & ~255u; }

// Returns an error text, empty on success.
std::string Parse(int argc, char** argv, Options* o) {
  bool have_role = false;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    if (i + 1 >= argc) return "missing value for " + f;
    std::string v = argv[++i];
    char* end = nullptr;
    auto num = [&](double lo, double hi, double* d) -> bool {
      *d = std::strtod(v.c_str(), &end);
      return end != v.c_str() && *end == '\0' && *d >= lo && *d <= hi;
    };
    double d = 0;
    if (f == "--role") {
      if (v != "flood" && v != "good") return "--role is flood or good";
      o->good = v == "good";
      have_role = true;
    } else if (f == "--port") {
      if (!num(1, 65535, &d)) return "bad --port";
      o->port = static_cast<int>(d);
    } else if (f == "--cafile") {
      o->cafile = v;
    } else if (f == "--rate") {
      if (!num(0.1, 20000, &d)) return "--rate: 0.1..20000";
      o->rate = d;
    } else if (f == "--seconds") {
      if (!num(0.1, 86400, &d)) return "--seconds: 0.1..86400";
      o->seconds = d;
    } else if (f == "--count") {
      if (!num(0, 1e9, &d)) return "--count: 0..1e9";
      o->count = static_cast<int64_t>(d);
    } else if (f == "--timeout") {
      if (!num(0.1, 600, &d)) return "--timeout: 0.1..600";
      o->timeout_s = d;
    } else if (f == "--max-in-flight") {
      if (!num(1, 100000, &d)) return "--max-in-flight: 1..100000";
      o->max_in_flight = static_cast<int>(d);
    } else if (f == "--addr-base") {
      if (!ParseV4(v, &o->addr_base)) return "--addr-base must be an address of 127.0.0.0/8";
    } else if (f == "--addrs") {
      if (!num(1, kMaxAddrs, &d)) return "--addrs: 1..1048576";
      o->addrs = static_cast<int>(d);
    } else if (f == "--heavy-pct") {
      if (!num(0, 100, &d)) return "--heavy-pct: 0..100";
      o->heavy_pct = static_cast<int>(d);
    } else if (f == "--heavy-addrs") {
      if (!num(1, 256, &d)) return "--heavy-addrs: 1..256";
      o->heavy_addrs = static_cast<int>(d);
    } else if (f == "--brute-pct") {
      if (!num(0, 100, &d)) return "--brute-pct: 0..100";
      o->brute_pct = static_cast<int>(d);
    } else if (f == "--victims") {
      std::stringstream ss(v);
      std::string u;
      while (std::getline(ss, u, ','))
        if (!u.empty()) o->victims.push_back(u);
    } else if (f == "--spray-users") {
      if (!num(1, 1e7, &d)) return "--spray-users: 1..1e7";
      o->spray_users = static_cast<int>(d);
    } else if (f == "--domain") {
      o->domain = v;
    } else if (f == "--seed") {
      if (!num(0, 1e15, &d)) return "bad --seed";
      o->seed = static_cast<uint64_t>(d);
    } else if (f == "--users-file") {
      o->users_file = v;
    } else {
      return "unknown option " + f;
    }
  }
  if (!have_role) return "--role is required";
  if (o->port == 0) return "--port is required";
  if (o->good && o->users_file.empty()) return "--role good needs --users-file";
  if (!o->good && o->addr_base == 0) return "--role flood needs --addr-base";
  if (!o->good && o->brute_pct > 0 && o->victims.empty()) return "brute force needs --victims";
  if (!o->good && static_cast<uint64_t>(o->addr_base & 0x00ffffffu) + HeavyOffset(*o) + 256 > 0x01000000u)
    return "--addr-base + --addrs leaves 127.0.0.0/8";
  for (const std::string& u : o->victims)
    if (u.find_first_of("\"\\\r\n") != std::string::npos) return "a victim name needs quoting";
  return "";
}

std::string LoadUsers(const std::string& path, std::vector<GoodUser>* out) {
  std::ifstream in(path);
  if (!in) return "cannot read " + path;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    GoodUser g;
    std::string addr;
    if (!(ls >> g.user >> g.password >> addr) || !ParseV4(addr, &g.address))
      return "bad line in --users-file (want: user password 127.x.y.z)";
    if ((g.user + g.password).find_first_of("\"\\") != std::string::npos)
      return "--users-file: no quotes or backslashes";
    out->push_back(std::move(g));
  }
  if (out->empty()) return "--users-file has no user";
  return "";
}

struct Summary {
  std::vector<uint32_t> us;
  void Add(uint64_t v) { us.push_back(static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX))); }
  std::string Json() {
    std::sort(us.begin(), us.end());
    auto pct = [&](double p) -> double {
      if (us.empty()) return 0;
      size_t k = static_cast<size_t>(p / 100.0 * us.size() + 0.5);
      k = k == 0 ? 0 : std::min(us.size() - 1, k - 1);
      return us[k] / 1000.0;
    };
    char buf[256];
    std::snprintf(buf, sizeof buf, "{\"n\":%zu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
                  us.size(), pct(50), pct(90), pct(99), us.empty() ? 0.0 : us.back() / 1000.0);
    return buf;
  }
};

class Tool;

// One attempt: a connection from one source address, one LOGIN.
struct Conn {
  enum class St { kConnecting, kHandshake, kGreeting, kLogin, kLogout };
  Tool* tool = nullptr;
  int fd = -1;
  SSL* ssl = nullptr;
  event* ev = nullptr;
  St st = St::kConnecting;
  uint64_t start_us = 0, deadline_us = 0, login_sent_us = 0;
  std::string user, password, in, out;
  short armed = -1;
  ~Conn() {
    if (ev != nullptr) event_free(ev);
    if (ssl != nullptr) SSL_free(ssl);
    if (fd >= 0) close(fd);
  }
};

class Tool {
 public:
  Tool(Options o, std::vector<GoodUser> users) : o_(std::move(o)), users_(std::move(users)) {}
  ~Tool() {
    for (Conn* c : live_) delete c;
    if (tick_ != nullptr) event_free(tick_);
    if (sigterm_ != nullptr) event_free(sigterm_);
    if (sigint_ != nullptr) event_free(sigint_);
    if (base_ != nullptr) event_base_free(base_);
    SSL_CTX_free(ctx_);
  }

  std::string Init() {
    ctx_ = SSL_CTX_new(TLS_method());
    if (ctx_ == nullptr || !SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION) ||
        !SSL_CTX_set1_curves_list(ctx_, "X25519:P-256"))
      return "SSL_CTX setup failed";
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
    if (!o_.cafile.empty()) {
      if (!SSL_CTX_load_verify_locations(ctx_, o_.cafile.c_str(), nullptr)) return "cannot load --cafile";
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    } else {
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    }
    base_ = event_base_new();
    if (base_ == nullptr) return "event_base_new failed";
    target_.sin_family = AF_INET;
    target_.sin_port = htons(static_cast<uint16_t>(o_.port));
    target_.sin_addr.s_addr = htonl(0x7F000001u);
    double tick_us = std::min(5000.0, 1e6 / o_.rate);
    tick_tv_.tv_sec = 0;
    tick_tv_.tv_usec = std::max(200, static_cast<int>(tick_us));
    tick_ = event_new(base_, -1, EV_PERSIST, OnTick, this);
    sigterm_ = evsignal_new(base_, SIGTERM, OnSignal, this);
    sigint_ = evsignal_new(base_, SIGINT, OnSignal, this);
    if (tick_ == nullptr || sigterm_ == nullptr || sigint_ == nullptr) return "event_new failed";
    event_add(sigterm_, nullptr);
    event_add(sigint_, nullptr);
    return "";
  }

  void Run() {
    start_us_ = NowMicros();
    cpu0_ = CpuSeconds();
    event_add(tick_, &tick_tv_);
    OnTick(-1, 0, this);
    event_base_dispatch(base_);
  }

  void PrintJson() {
    double elapsed = (end_us_ - start_us_) / 1e6;
    std::string s = "{\"role\":\"";
    s += o_.good ? "good" : "flood";
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "\",\"seconds\":%.3f,\"offered\":%lld,\"offered_per_s\":%.1f,\"skipped\":%lld,"
                  "\"max_in_flight\":%zu,\"answered_after_1s\":%lld,\"cpu_s\":%.3f,",
                  elapsed, static_cast<long long>(launched_), elapsed > 0 ? launched_ / elapsed : 0.0,
                  static_cast<long long>(skipped_), max_in_flight_, static_cast<long long>(after_1s_),
                  CpuSeconds() - cpu0_);
    s += buf;
    s += "\"outcomes\":{";
    bool first = true;
    for (const auto& [k, v] : outcomes_) {
      s += (first ? "\"" : ",\"") + k + "\":" + std::to_string(v);
      first = false;
    }
    s += "},\"kinds\":{\"brute\":" + std::to_string(brute_) + ",\"spray\":" + std::to_string(spray_) +
         ",\"heavy\":" + std::to_string(heavy_) + "}";
    s += ",\"answer_ms\":" + answer_.Json();        // LOGIN sent -> its answer (flood: any answer)
    s += ",\"login_ms\":" + login_.Json();          // good: connect start -> tagged OK
    s += ",\"handshake_ms\":" + handshake_.Json();  // connect start -> TLS handshake done
    s += "}";
    std::printf("%s\n", s.c_str());
    std::fflush(stdout);
  }

 private:
  static void OnTick(evutil_socket_t, short, void* arg) { static_cast<Tool*>(arg)->Tick(); }
  static void OnSignal(evutil_socket_t, short, void* arg) { static_cast<Tool*>(arg)->Stop(); }
  static void OnConnEvent(evutil_socket_t, short what, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    c->tool->Drive(c, what);
  }

  void Tick() {
    if (stopping_) return;
    uint64_t now = NowMicros();
    double elapsed = (now - start_us_) / 1e6;
    bool time_up = elapsed >= o_.seconds;
    bool count_done = o_.count > 0 && launched_ + skipped_ >= o_.count;
    if (time_up && end_us_ == 0) end_us_ = now;  // the offered rate is over the launching time
    // The good role lets the logins already started finish (within --timeout); the flood stops.
    if (time_up && (!o_.good || live_.empty())) return Stop();
    if (count_done && live_.empty()) return Stop();
    if (!time_up && !count_done) {
      int64_t due = static_cast<int64_t>(elapsed * o_.rate) + 1;
      if (o_.count > 0) due = std::min(due, o_.count);
      while (launched_ + skipped_ < due) {
        if (static_cast<int>(live_.size()) >= o_.max_in_flight) {
          ++skipped_;
          continue;
        }
        Launch(launched_ + skipped_);
      }
    }
    // Deadlines: an event armed without a timeout is checked here.
    if (now - last_sweep_us_ > 200000) {
      last_sweep_us_ = now;
      std::vector<Conn*> late;
      for (Conn* c : live_)
        if (now > c->deadline_us) late.push_back(c);
      for (Conn* c : late) End(c, "timeout");
    }
  }

  void Stop() {
    if (stopping_) return;
    stopping_ = true;
    if (end_us_ == 0) end_us_ = NowMicros();
    std::vector<Conn*> rest(live_.begin(), live_.end());
    for (Conn* c : rest) {
      if (o_.good && c->st == Conn::St::kLogout) {
        End(c, nullptr);
      } else {
        End(c, "cut");
      }
    }
    event_base_loopbreak(base_);
  }

  void Launch(int64_t k) {
    ++launched_;
    auto* c = new Conn();
    c->tool = this;
    c->start_us = NowMicros();
    c->deadline_us = c->start_us + static_cast<uint64_t>(o_.timeout_s * 1e6);
    uint32_t src = 0;
    if (o_.good) {
      const GoodUser& g = users_[static_cast<size_t>(k) % users_.size()];
      c->user = g.user;
      c->password = g.password;
      src = g.address;
    } else {
      uint64_t r = SplitMix(o_.seed * 0x100000001b3ull + static_cast<uint64_t>(k));
      uint64_t r2 = SplitMix(r);
      if (static_cast<int>((r >> 40) % 100) < o_.heavy_pct) {
        ++heavy_;
        src = o_.addr_base + HeavyOffset(o_) + static_cast<uint32_t>((r >> 20) % static_cast<uint64_t>(o_.heavy_addrs));
      } else {
        src = o_.addr_base + static_cast<uint32_t>(r % static_cast<uint64_t>(o_.addrs));
      }
      if (static_cast<int>((r2 >> 8) % 100) < o_.brute_pct) {
        ++brute_;
        c->user = o_.victims[(r2 >> 20) % o_.victims.size()];
        char pw[40];
        std::snprintf(pw, sizeof pw, "guess-%016llx", static_cast<unsigned long long>(SplitMix(r2)));
        c->password = pw;
      } else {
        ++spray_;
        static const char* kCommon[] = {"123456",   "password", "qwerty123", "letmein",
                                        "Summer2026", "welcome1", "iloveyou",  "admin123"};
        c->user = "spray" + std::to_string((r2 >> 20) % static_cast<uint64_t>(o_.spray_users)) + "@" + o_.domain;
        c->password = kCommon[(r2 >> 40) % 8];
      }
    }
    live_.insert(c);
    max_in_flight_ = std::max(max_in_flight_, live_.size());
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return End(c, "connect_error");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(src);
    if (bind(c->fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return End(c, "bind_error");
    c->ev = event_new(base_, c->fd, EV_WRITE | EV_PERSIST, OnConnEvent, c);
    if (c->ev == nullptr) return End(c, "connect_error");
    if (connect(c->fd, reinterpret_cast<sockaddr*>(&target_), sizeof target_) == 0) return StartTls(c);
    if (errno != EINPROGRESS) return End(c, "connect_error");
    Arm(c, false, true);
  }

  void Arm(Conn* c, bool read, bool write) {
    short want = static_cast<short>((read ? EV_READ : 0) | (write ? EV_WRITE : 0));
    if (want == c->armed) return;
    event_del(c->ev);
    event_assign(c->ev, base_, c->fd, want | EV_PERSIST, OnConnEvent, c);
    if (want != 0) event_add(c->ev, nullptr);
    c->armed = want;
  }

  void StartTls(Conn* c) {
    c->ssl = SSL_new(ctx_);
    if (c->ssl == nullptr || !SSL_set_fd(c->ssl, c->fd)) return End(c, "tls_error");
    SSL_set_connect_state(c->ssl);
    if (!o_.cafile.empty()) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), "127.0.0.1");
    c->st = Conn::St::kHandshake;
    Handshake(c);
  }

  void Handshake(Conn* c) {
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
      handshake_.Add(NowMicros() - c->start_us);
      c->st = Conn::St::kGreeting;
      Arm(c, true, false);
      return ReadInput(c);
    }
    int err = SSL_get_error(c->ssl, rc);
    ERR_clear_error();
    if (err == SSL_ERROR_WANT_READ) return Arm(c, true, false);
    if (err == SSL_ERROR_WANT_WRITE) return Arm(c, false, true);
    End(c, "closed_at_connect");  // reset or closed during the handshake
  }

  void Drive(Conn* c, short what) {
    switch (c->st) {
      case Conn::St::kConnecting: {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
          return End(c, "connect_error");
        return StartTls(c);
      }
      case Conn::St::kHandshake:
        return Handshake(c);
      default:
        break;
    }
    if ((what & EV_WRITE) && !c->out.empty()) {
      if (!Flush(c)) return;
    }
    if (what & EV_READ) ReadInput(c);
  }

  // Writes c->out; false when the connection ended.
  bool Flush(Conn* c) {
    int n = SSL_write(c->ssl, c->out.data(), static_cast<int>(c->out.size()));
    if (n > 0) {
      c->out.clear();
      Arm(c, true, false);
      return true;
    }
    int err = SSL_get_error(c->ssl, n);
    ERR_clear_error();
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      Arm(c, true, true);
      return true;
    }
    End(c, c->st == Conn::St::kLogout ? nullptr : "closed_after_login");
    return false;
  }

  void Send(Conn* c, const std::string& line) {
    c->out = line;
    Flush(c);
  }

  void ReadInput(Conn* c) {
    char buf[4096];
    for (;;) {
      int n = SSL_read(c->ssl, buf, sizeof buf);
      if (n > 0) {
        c->in.append(buf, static_cast<size_t>(n));
        size_t pos;
        while ((pos = c->in.find("\r\n")) != std::string::npos) {
          std::string line = c->in.substr(0, pos);
          c->in.erase(0, pos + 2);
          if (!OnLine(c, line)) return;  // ended
        }
        if (c->in.size() > kMaxLine) return End(c, "protocol_error");
        continue;
      }
      int err = SSL_get_error(c->ssl, n);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
      switch (c->st) {
        case Conn::St::kGreeting:
          return End(c, "closed_at_connect");
        case Conn::St::kLogin:
          return End(c, "closed_after_login");
        default:
          return End(c, nullptr);
      }
    }
  }

  // One line from the server; false when the connection ended.
  bool OnLine(Conn* c, const std::string& line) {
    auto starts = [&](const char* p) { return line.compare(0, std::strlen(p), p) == 0; };
    auto has = [&](const char* p) { return line.find(p) != std::string::npos; };
    if (c->st == Conn::St::kGreeting) {
      if (starts("* BYE")) {
        End(c, has("failed logins") ? "bye_blocked" : has("connections") ? "bye_limit" : "bye_other");
        return false;
      }
      if (!starts("* OK")) {
        End(c, "protocol_error");
        return false;
      }
      c->st = Conn::St::kLogin;
      c->login_sent_us = NowMicros();
      Send(c, "a LOGIN \"" + c->user + "\" \"" + c->password + "\"\r\n");
      return live_.count(c) != 0;
    }
    if (c->st == Conn::St::kLogin) {
      if (starts("* BYE")) {
        End(c, "bye_at_login");
        return false;
      }
      if (!starts("a ")) return true;  // untagged
      uint64_t now = NowMicros();
      answer_.Add(now - c->login_sent_us);
      if (now - c->login_sent_us > 1000000) ++after_1s_;
      if (starts("a OK")) {
        login_.Add(now - c->start_us);
        Count("ok");
        c->st = Conn::St::kLogout;
        Send(c, "b LOGOUT\r\n");
        return live_.count(c) != 0;
      }
      End(c, has("[UNAVAILABLE]")          ? "no_unavailable"
             : has("[LIMIT]")              ? "no_limit"
             : has("[AUTHENTICATIONFAILED]") ? "no_authfailed"
                                           : "no_other");
      return false;
    }
    if (c->st == Conn::St::kLogout && starts("b ")) {
      End(c, nullptr);
      return false;
    }
    return true;
  }

  void Count(const std::string& what) { ++outcomes_[what]; }

  // Ends an attempt; outcome null: already counted (a good login's LOGOUT).
  void End(Conn* c, const char* outcome) {
    if (outcome != nullptr) Count(outcome);
    live_.erase(c);
    delete c;
    if (!stopping_ && o_.count > 0 && launched_ + skipped_ >= o_.count && live_.empty()) Stop();
  }

  Options o_;
  std::vector<GoodUser> users_;
  SSL_CTX* ctx_ = nullptr;
  event_base* base_ = nullptr;
  event* tick_ = nullptr;
  event* sigterm_ = nullptr;
  event* sigint_ = nullptr;
  timeval tick_tv_{};
  sockaddr_in target_{};
  std::unordered_set<Conn*> live_;
  uint64_t start_us_ = 0, end_us_ = 0, last_sweep_us_ = 0;
  double cpu0_ = 0;
  int64_t launched_ = 0, skipped_ = 0, after_1s_ = 0, brute_ = 0, spray_ = 0, heavy_ = 0;
  size_t max_in_flight_ = 0;
  bool stopping_ = false;
  std::map<std::string, int64_t> outcomes_;
  Summary answer_, login_, handshake_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string err = Parse(argc, argv, &o);
  if (!err.empty()) {
    std::fprintf(stderr, "imapgate-attack: %s\n%s", err.c_str(), Usage().c_str());
    return 2;
  }
  std::vector<GoodUser> users;
  if (o.good) {
    err = LoadUsers(o.users_file, &users);
    if (!err.empty()) {
      std::fprintf(stderr, "imapgate-attack: %s\n", err.c_str());
      return 2;
    }
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && static_cast<rlim_t>(o.max_in_flight) + 64 > rl.rlim_cur)
    o.max_in_flight = static_cast<int>(rl.rlim_cur) - 64;
  signal(SIGPIPE, SIG_IGN);
  auto tool = std::make_unique<Tool>(o, std::move(users));
  err = tool->Init();
  if (!err.empty()) {
    std::fprintf(stderr, "imapgate-attack: %s\n", err.c_str());
    return 1;
  }
  tool->Run();
  tool->PrintJson();
  return 0;
}
