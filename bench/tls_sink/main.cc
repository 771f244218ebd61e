// imapgate-tls-sink: a bare TLS server, the "physical limit" peer of the benchmarks.
//
// It builds its SSL_CTX with imapgate's own TlsServerContext::Create (same BoringSSL, TLS
// 1.2/1.3, X25519:P-256, ALPN "imap" rule, session tickets), listens on 127.0.0.1:--port, and in
// one libevent loop accepts, handshakes, echoes any bytes and closes on EOF: no IMAP at all, so
// its CPU per handshake is what the TLS library alone costs. Prints "LISTENING <port>" when
// ready and, on SIGTERM/SIGINT, one JSON line with its handshakes and CPU (getrusage self).
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>

#include "bench/common/loopback_server.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tls/tls_context.h"

namespace imapgate::bench {
namespace {

struct Sink {
  event_base* base = nullptr;
  SSL_CTX* ctx = nullptr;
  char buffer[16384];
  uint64_t accepted = 0, handshakes = 0, resumed = 0, failed = 0;
};

// One TLS connection; deletes itself on close.
class Conn {
 public:
  Conn(Sink* sink, int fd) : sink_(sink), fd_(fd) {
    ssl_ = SSL_new(sink->ctx);
    SSL_set_fd(ssl_, fd);
    SSL_set_accept_state(ssl_);
    event_ = event_new(sink->base, fd, EV_READ | EV_PERSIST, OnEvent, this);
    event_add(event_, nullptr);
  }

 private:
  ~Conn() {
    event_free(event_);
    SSL_free(ssl_);
    close(fd_);
  }

  static void OnEvent(int, short, void* arg) {
    auto* c = static_cast<Conn*>(arg);
    if (!c->Step()) delete c;
  }

  void Arm(short what) {
    if (what == armed_) return;
    armed_ = what;
    event_del(event_);
    event_assign(event_, sink_->base, fd_, what | EV_PERSIST, OnEvent, this);
    event_add(event_, nullptr);
  }

  // Returns false when the connection is over.
  bool Step() {
    if (!handshaken_) {
      int r = SSL_do_handshake(ssl_);
      if (r != 1) {
        int err = SSL_get_error(ssl_, r);
        if (err == SSL_ERROR_WANT_READ) return Arm(EV_READ), true;
        if (err == SSL_ERROR_WANT_WRITE) return Arm(EV_WRITE), true;
        ++sink_->failed;
        return false;
      }
      handshaken_ = true;
      ++sink_->handshakes;
      if (SSL_session_reused(ssl_)) ++sink_->resumed;
      Arm(EV_READ);
    }
    for (;;) {
      int n = SSL_read(ssl_, sink_->buffer, sizeof sink_->buffer);
      if (n <= 0) {
        int err = SSL_get_error(ssl_, n);
        if (err == SSL_ERROR_WANT_READ) return true;
        return false;  // EOF, close_notify or error: close
      }
      // Echo (best effort: a sink, not a relay; a peer that floods without reading is cut off).
      if (SSL_write(ssl_, sink_->buffer, n) != n) return false;
    }
  }

  Sink* sink_;
  int fd_;
  SSL* ssl_;
  event* event_;
  short armed_ = EV_READ;
  bool handshaken_ = false;
};

void OnAccept(int listen_fd, short, void* arg) {
  auto* sink = static_cast<Sink*>(arg);
  AcceptPending(listen_fd, [sink](int fd) {
    ++sink->accepted;
    new Conn(sink, fd);
  });
}

void OnSignal(int, short, void* arg) { event_base_loopbreak(static_cast<event_base*>(arg)); }

const char kUsage[] =
    "usage: imapgate-tls-sink --cert FILE --key FILE --port P\n"
    "A bare TLS server with imapgate's TLS settings on 127.0.0.1 (--port 0 picks a free port,\n"
    "printed as \"LISTENING <port>\"): handshake, echo, close on EOF. On SIGTERM/SIGINT it\n"
    "prints one JSON line: accepted, handshakes, resumed, failed, cpu_s, cpu_us_per_handshake.\n";

int Main(int argc, char** argv) {
  std::string cert, key;
  long port = -1;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "missing value for %s\n%s", flag.c_str(), kUsage);
      return 2;
    }
    const char* value = argv[++i];
    if (flag == "--cert") {
      cert = value;
    } else if (flag == "--key") {
      key = value;
    } else if (flag == "--port") {
      char* end = nullptr;
      port = std::strtol(value, &end, 10);
      if (*end != '\0' || port < 0 || port > 65535) port = -1;
    } else {
      std::fprintf(stderr, "unknown option %s\n%s", flag.c_str(), kUsage);
      return 2;
    }
  }
  if (cert.empty() || key.empty() || port < 0) {
    std::fprintf(stderr, "--cert, --key and --port 0..65535 are required\n%s", kUsage);
    return 2;
  }
  auto ctx = tls::TlsServerContext::Create(cert, key);
  if (!ctx.ok()) {
    std::fprintf(stderr, "tls-sink: %s\n", ctx.status().message().c_str());
    return 1;
  }
  Sink sink;
  sink.ctx = (*ctx)->get();
  uint16_t bound_port = 0;
  int fd = bench::ListenOnLoopbackForBench(port, &bound_port);
  if (fd < 0) return 1;
  sink.base = event_base_new();
  event* accept_event = event_new(sink.base, fd, EV_READ | EV_PERSIST, OnAccept, &sink);
  event* term = evsignal_new(sink.base, SIGTERM, OnSignal, sink.base);
  event* intr = evsignal_new(sink.base, SIGINT, OnSignal, sink.base);
  event_add(accept_event, nullptr);
  event_add(term, nullptr);
  event_add(intr, nullptr);
  std::printf("LISTENING %d\n", bound_port);
  std::fflush(stdout);
  event_base_dispatch(sink.base);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  double cpu =
      ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::printf(
      "{\"accepted\":%llu,\"handshakes\":%llu,\"resumed\":%llu,\"failed\":%llu,\"cpu_s\":%.6f,"
      "\"cpu_us_per_handshake\":%.1f}\n",
      (unsigned long long)sink.accepted, (unsigned long long)sink.handshakes,
      (unsigned long long)sink.resumed, (unsigned long long)sink.failed, cpu,
      sink.handshakes ? cpu * 1e6 / sink.handshakes : 0.0);
  std::fflush(stdout);
  event_free(accept_event);
  event_free(term);
  event_free(intr);
  close(fd);
  return 0;
}

}  // namespace
}  // namespace imapgate::bench

int main(int argc, char** argv) { return imapgate::bench::Main(argc, argv); }
