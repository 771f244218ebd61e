// imapgate-fixture-backend: a FIXTURE IMAP responder for capacity tests — NOT a mail server.
//
// Real Dovecot runs a process per session, so it cannot stand behind 50k idle sessions; this
// single-threaded libevent loop can. It speaks just enough IMAP (see responder.h) in plaintext
// on 127.0.0.1:--port, with 8 KiB lines and literals, and holds a few hundred bytes per idle
// connection (no buffers while idle). Prints "LISTENING <port>" once ready (useful with
// --port 0). SIGTERM/SIGINT stop it.
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>

#include "bench/common/loopback_server.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/fixture_backend/command_reader.h"
#include "bench/fixture_backend/responder.h"

namespace imapgate::bench {
namespace {

struct Server {
  event_base* base = nullptr;
  std::string password;
  std::string message;
  char buffer[16384];
  uint64_t connections = 0;
};

// One client connection. Owned by itself: deletes itself on close.
class Connection {
 public:
  Connection(Server* server, int fd)
      : server_(server), fd_(fd), responder_(&server->password, &server->message) {
    event_ = event_new(server->base, fd, EV_READ | EV_PERSIST, OnEvent, this);
    event_add(event_, nullptr);
    out_.assign(kFixtureGreeting);
    Flush();
  }

 private:
  ~Connection() {
    event_free(event_);
    close(fd_);
  }

  static void OnEvent(int, short what, void* arg) {
    auto* c = static_cast<Connection*>(arg);
    if (what & EV_WRITE) c->Flush();
    if (!c->closing_ && (what & EV_READ)) c->Read();
    if (c->closing_ && c->out_.empty()) delete c;
  }

  void Read() {
    ssize_t n = recv(fd_, server_->buffer, sizeof server_->buffer, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      closing_ = true;
      out_.clear();
      return;
    }
    std::string_view in(server_->buffer, static_cast<size_t>(n));
    size_t pos = 0;
    while (!closing_) {
      CommandReader::Result r = reader_.Next(in, &pos);
      if (r == CommandReader::Result::kNeedMore) break;
      if (r == CommandReader::Result::kError) {
        out_.append("* BYE ").append(reader_.error()).append("\r\n");
        closing_ = true;
      } else if (r == CommandReader::Result::kContinue) {
        out_.append("+ go ahead\r\n");
      } else if (responder_.Respond(reader_.tokens(), &out_) == ImapResponder::Action::kClose) {
        closing_ = true;
      }
    }
    if (reader_.empty()) reader_.ReleaseMemory();
    Flush();
  }

  void Flush() {
    size_t done = 0;
    while (done < out_.size()) {
      ssize_t w = send(fd_, out_.data() + done, out_.size() - done, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) break;
        closing_ = true;
        done = out_.size();
        break;
      }
      done += static_cast<size_t>(w);
    }
    out_.erase(0, done);
    if (out_.empty()) std::string().swap(out_);
    bool want_write = !out_.empty();
    if (want_write != writing_) {
      writing_ = want_write;
      event_del(event_);
      event_assign(event_, server_->base, fd_, EV_READ | EV_PERSIST | (want_write ? EV_WRITE : 0),
                   OnEvent, this);
      event_add(event_, nullptr);
    }
  }

  Server* server_;
  int fd_;
  event* event_;
  bool writing_ = false;
  bool closing_ = false;
  CommandReader reader_;
  ImapResponder responder_;
  std::string out_;
};

void OnAccept(int listen_fd, short, void* arg) {
  auto* server = static_cast<Server*>(arg);
  AcceptPending(listen_fd, [server](int fd) {
    ++server->connections;
    new Connection(server, fd);
  });
}

void OnSignal(int, short, void* arg) { event_base_loopbreak(static_cast<event_base*>(arg)); }

const char kUsage[] =
    "usage: imapgate-fixture-backend --port P [--password PW] [--message-bytes N]\n"
    "A FIXTURE IMAP responder for capacity tests only (not a mail server): plaintext on\n"
    "127.0.0.1, any user with password PW (default \"fixture\"), INBOX with one message of N\n"
    "bytes (default 10240), IDLE, NOOP, FETCH/UID FETCH, LOGOUT. --port 0 picks a free port;\n"
    "the port is printed as \"LISTENING <port>\".\n";

int Main(int argc, char** argv) {
  Server server;
  server.password = "fixture";
  long port = -1, message_bytes = 10240;
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
    char* end = nullptr;
    if (flag == "--port") {
      port = std::strtol(value, &end, 10);
      if (*end != '\0' || port < 0 || port > 65535) port = -2;
    } else if (flag == "--password") {
      server.password = value;
    } else if (flag == "--message-bytes") {
      message_bytes = std::strtol(value, &end, 10);
      if (*end != '\0' || message_bytes < 1 || message_bytes > 64L * 1024 * 1024) {
        std::fprintf(stderr, "bad --message-bytes (1..67108864)\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "unknown option %s\n%s", flag.c_str(), kUsage);
      return 2;
    }
  }
  if (port < 0) {
    std::fprintf(stderr, "--port 0..65535 is required\n%s", kUsage);
    return 2;
  }
  server.message = MakeFixtureMessage(static_cast<size_t>(message_bytes));
  uint16_t bound_port = 0;
  int fd = bench::ListenOnLoopbackForBench(port, &bound_port);
  if (fd < 0) return 1;
  server.base = event_base_new();
  event* accept_event = event_new(server.base, fd, EV_READ | EV_PERSIST, OnAccept, &server);
  event_add(accept_event, nullptr);
  event* term = evsignal_new(server.base, SIGTERM, OnSignal, server.base);
  event* intr = evsignal_new(server.base, SIGINT, OnSignal, server.base);
  event_add(term, nullptr);
  event_add(intr, nullptr);
  std::printf("LISTENING %d\n", bound_port);
  std::fflush(stdout);
  event_base_dispatch(server.base);
  std::fprintf(stderr, "fixture-backend: %llu connections served\n",
               (unsigned long long)server.connections);
  // Live connections are left to process exit.
  event_free(accept_event);
  event_free(term);
  event_free(intr);
  close(fd);
  return 0;
}

}  // namespace
}  // namespace imapgate::bench

int main(int argc, char** argv) { return imapgate::bench::Main(argc, argv); }
