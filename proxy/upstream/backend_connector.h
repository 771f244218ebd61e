// BackendConnector: reaches one backend and brings it to the point where it takes a command —
// connect → (TLS handshake) → greeting → (STARTTLS → handshake → CAPABILITY) — without logging
// in. BackendLogin logs in on top of it; the health checks of issue D use it alone
// (require_capability: ask CAPABILITY when the greeting carried none).
//
// Rules from protocol-and-tls.md, enforced here: a PREAUTH, BYE or non-IMAP greeting is fatal;
// a literal before login is fatal; STARTTLS is never opportunistic (a backend that does not
// advertise it is refused); bytes after the STARTTLS OK are discarded and the capabilities are
// fetched again over TLS; every response line is bounded by target.max_line_bytes.
//
// Syscalls: for a plaintext or STARTTLS backend the connect is not watched for writability —
// the greeting's readable event (or a failed connect's) shows the connect completed; a backend
// that accepts and stays silent is caught by OnTimer (see docs/ARCHITECTURE.md).
//
// The owner provides the timer (one per login: the connect and greeting deadlines here, the
// LOGIN answer in BackendLogin after) and calls OnTimer when it fires. Results go to a
// ConnectorClient synchronously from the connector's own I/O callback (so a LOGIN can follow
// the greeting without another loop turn); the connector is inert afterwards and must not be
// destroyed inside that call. Single-threaded, on the owner's worker.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time_source.h"
#include "net/buffered_connection.h"
#include "net/event_loop.h"
#include "net/io_watcher.h"
#include "net/socket.h"
#include "net/timer.h"
#include "net/transport.h"
#include "tls/tls_context.h"
#include "tls/tls_transport.h"

namespace imapgate::upstream {

enum class BackendSecurityMode { kPlaintext, kTls, kStartTls };

// Where and how to reach one backend. Immutable; shared by every session of a worker.
struct BackendTarget {
  std::string label;  // "host:port", for logs
  net::SocketAddress address;
  BackendSecurityMode security = BackendSecurityMode::kPlaintext;
  const tls::TlsClientContext* tls = nullptr;  // for kTls/kStartTls; not owned
  std::string server_name;                     // SNI / name to verify
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds login_timeout{15000};
  size_t max_line_bytes = 65536;
  // Send a PROXY protocol v2 header right after the TCP connect (before TLS and the greeting).
  bool send_proxy_v2 = false;
};

// True if the space-separated capability list holds `name` (ASCII case-insensitive; `name` in
// upper case).
bool HasCapability(std::string_view capabilities, std::string_view name);

// A greeted backend, ready for a command.
struct BackendConnection {
  net::BufferedConnection connection;  // watcher still registered; its handler is detached
  tls::TlsTransport* tls = nullptr;    // == the connection's transport when TLS is on; not owning
  std::string capabilities;          // from the greeting, or from CAPABILITY over TLS
  std::string input;                 // bytes read behind the last line handled
};

// Receives the connector's result (exactly one of the two calls).
class ConnectorClient {
 public:
  virtual ~ConnectorClient() = default;
  virtual void OnBackendReady(BackendConnection connection) = 0;
  // Why the backend cannot be used (for logs; never a secret).
  virtual void OnBackendFailed(std::string detail) = 0;
};

class BackendConnector final : public net::IoHandler {
 public:
  // Starts connecting. `timer` is armed here and must be routed to OnTimer() by its owner.
  // With target.send_proxy_v2, `proxy_header` (the client's addresses, proxyproto::EncodeV2) is
  // written first once connected; when empty, a LOCAL header (a health check) is sent instead.
  // An error means nothing was started; a failed connect is reported through the client (and
  // may be reported inside Start()).
  static StatusOr<std::unique_ptr<BackendConnector>> Start(net::EventLoop* loop, const TimeSource* time,
                                                           const BackendTarget& target, net::Timer* timer,
                                                           ConnectorClient* client, char* scratch,
                                                           size_t scratch_size, bool require_capability = false,
                                                           std::string proxy_header = {});
  ~BackendConnector() override;

  void OnIo(net::IoWatcher* watcher, bool readable, bool writable) override;
  // The owner's timer fired.
  void OnTimer();
  // True once the result was reported.
  bool done() const { return state_ == State::kDone; }

 private:
  enum class State { kConnecting, kHandshake, kGreeting, kStartTlsReply, kStartTlsHandshake, kCapability, kDone };

  BackendConnector(const TimeSource* time, const BackendTarget& target, net::Timer* timer, ConnectorClient* client,
                   char* scratch, size_t scratch_size, bool require_capability)
      : time_(time), target_(target), timer_(timer), client_(client), scratch_(scratch),
        scratch_size_(scratch_size), require_capability_(require_capability) {}
  void Begin(net::EventLoop* loop);
  void OnConnected();
  void DoHandshake(State next);
  bool ReadLines();
  bool HandleLine(std::string_view line);
  bool UpgradeToTls();
  bool Send(std::string_view command);
  bool FlushOutput();
  void Ready();
  void Fail(std::string detail);
  void UpdateInterest();

  const TimeSource* time_;
  const BackendTarget& target_;
  net::Timer* timer_;
  ConnectorClient* client_;
  char* scratch_;
  size_t scratch_size_;
  bool require_capability_;

  State state_ = State::kConnecting;
  net::BufferedConnection conn_;
  tls::TlsTransport* tls_ = nullptr;
  std::chrono::steady_clock::time_point connect_started_;
  std::string input_;  // partial response line
  std::string capabilities_;
  std::string proxy_header_;  // written right after the connect (PROXY v2 out); empty: none
};

using BackendConnectorPtr = std::unique_ptr<BackendConnector>;

}  // namespace imapgate::upstream
