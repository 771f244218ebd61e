// BackendLogin: opens a session on a backend IMAP server and logs in with the client's
// credentials (issue A's pass-through authentication).
//
// The credentials are a variant (backend_credentials.h): the client's own, or a master user
// (LOGIN "user*master", or AUTHENTICATE PLAIN with an authzid when the backend offers SASL-IR).
//
// Steps, an explicit state machine: connect → (TLS handshake) → greeting → (STARTTLS →
// handshake → CAPABILITY) → LOGIN with both credentials as literals → tagged answer →
// (CAPABILITY if the OK carried none). Rules from protocol-and-tls.md: a PREAUTH or non-IMAP
// greeting is fatal; STARTTLS is never opportunistic; bytes after the STARTTLS OK are
// discarded. The credentials are written as literals and wiped as soon as they are sent.
//
// Owned by the Session, on its worker. The completion callback always runs from a later loop
// callback, never inside Start(). Destroying the BackendLogin cancels it silently.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/secret.h"
#include "common/status.h"
#include "common/time_source.h"
#include "net/event_loop.h"
#include "net/io_watcher.h"
#include "net/socket.h"
#include "net/timer.h"
#include "net/transport.h"
#include "tls/tls_context.h"
#include "tls/tls_transport.h"
#include "upstream/backend_credentials.h"
#include "upstream/client_identity.h"

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
};

enum class BackendOutcome { kLoggedIn, kAuthFailed, kUnavailable };

struct BackendLoginResult {
  BackendOutcome outcome = BackendOutcome::kUnavailable;
  std::string detail;        // why, for logs (never a secret)
  std::string capabilities;  // the backend's post-login capability list (kLoggedIn)
  // kLoggedIn: the connection, ready for the relay.
  net::TransportPtr transport;
  net::IoWatcherPtr watcher;
  std::string leftover;  // bytes the backend sent after the tagged OK (normally none)
};

class BackendLogin final : public net::IoHandler {
 public:
  using DoneFn = std::function<void(BackendLoginResult)>;
  // Starts the attempt. Never calls `done` before returning. With `client`, a backend that
  // advertises ID is sent the client's identity just before LOGIN (see client_identity.h).
  // Deadlines are measured on `time`. An error (the loop cannot make a timer) means nothing was
  // started and `done` will never run; a failed connect is reported through `done`.
  static StatusOr<std::unique_ptr<BackendLogin>> Start(net::EventLoop* loop, const TimeSource* time,
                                                       const BackendTarget& target,
                                                       BackendCredentials credentials, DoneFn done,
                                                       char* scratch, size_t scratch_size,
                                                       const ClientIdentity* client = nullptr);
  ~BackendLogin() override;

  void OnIo(net::IoWatcher* watcher, bool readable, bool writable) override;

  // For tests: true while this attempt still holds credentials — the LOGIN arguments or SASL
  // response, or `secret` anywhere in the output buffer's storage (its whole capacity, so a
  // copy left behind by a cleared-but-not-wiped buffer counts). False once they were sent.
  bool RetainsCredentials(std::string_view secret) const;

 private:
  enum class State {
    kConnecting, kHandshake, kGreeting, kStartTlsReply, kStartTlsHandshake, kCapability,
    kLoginUserContinuation, kLoginPassContinuation, kLoginReply, kPostLoginCapability, kDone
  };

  BackendLogin(net::EventLoop* loop, const TimeSource* time, const BackendTarget& target,
               BackendCredentials credentials, DoneFn done, char* scratch, size_t scratch_size,
               const ClientIdentity* client);
  Status Begin();
  void OnTimer();
  void Advance(bool readable, bool writable);
  void OnConnected();
  void DoHandshake(State next);
  bool ReadLines();
  bool HandleLine(std::string_view line);
  void SendLogin();
  void Queue(std::string_view bytes);
  bool FlushOutput();
  void Fail(BackendOutcome outcome, std::string detail);
  void Succeed();
  void Complete();
  void UpdateInterest();

  net::EventLoop* loop_;
  const TimeSource* time_;
  const BackendTarget& target_;
  SecretString user_;      // LOGIN arguments (client-own or "user*master" form)
  SecretString password_;
  SecretString sasl_plain_;  // AUTHENTICATE PLAIN initial response (master user with authzid)
  DoneFn done_;
  char* scratch_;
  size_t scratch_size_;

  State state_ = State::kConnecting;
  net::TransportPtr transport_;
  tls::TlsTransport* tls_ = nullptr;
  net::IoWatcherPtr watcher_;
  net::TimerPtr timer_;     // connect, then login deadline
  std::chrono::steady_clock::time_point connect_started_;
  net::TimerPtr complete_;  // zero-delay: delivers the result from a fresh loop callback
  std::string input_;       // partial response line
  WipingBytes output_;      // may hold the credentials; wiped when freed
  size_t output_sent_ = 0;
  bool io_wants_write_ = false;    // queued output is blocked on a full socket
  bool read_wants_write_ = false;  // the last TLS read returned WANT_WRITE
  bool literal_plus_ = false;
  std::string id_command_;  // "A4 ID (...)\r\n", sent before LOGIN if the backend has ID
  std::string capabilities_;
  BackendLoginResult result_;
};

using BackendLoginPtr = std::unique_ptr<BackendLogin>;

}  // namespace imapgate::upstream
