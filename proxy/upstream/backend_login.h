// BackendLogin: logs in to a backend with the credentials it is given (backend_credentials.h:
// the client's own, issue A's pass-through; or a master user), on top of a BackendConnector
// that connects and brings the backend to its greeting (TLS, STARTTLS, capabilities).
//
// After the connector: → (ID) → LOGIN with both arguments as literals (or AUTHENTICATE PLAIN
// with SASL-IR for a master user with an authzid; or, for a bearer token, AUTHENTICATE XOAUTH2,
// else OAUTHBEARER, whichever the backend advertises, with SASL-IR when advertised, else after
// an empty continuation) → tagged answer → (CAPABILITY if the OK carried none). LOGINDISABLED is
// fatal except for a bearer token (it concerns the LOGIN command only). A bearer login to a
// backend that offers neither mechanism fails (kUnavailable) with "backend does not offer
// XOAUTH2/OAUTHBEARER". The credentials are wiped as soon as they are sent.
//
// Owned by the Session's login step, on its worker. The completion callback always runs from a
// later loop callback, never inside Start(). Destroying the BackendLogin cancels it silently.
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
#include "upstream/backend_connector.h"
#include "upstream/backend_credentials.h"
#include "upstream/client_identity.h"

namespace imapgate::upstream {

enum class BackendOutcome { kLoggedIn, kAuthFailed, kUnavailable };

struct BackendLoginResult {
  BackendOutcome outcome = BackendOutcome::kUnavailable;
  std::string detail;        // why, for logs (never a secret)
  std::string capabilities;  // the backend's post-login capability list (kLoggedIn)
  // kLoggedIn: the connection, ready for the relay.
  net::BufferedConnection connection;  // its watcher still registered, with no handler
  std::string leftover;  // bytes the backend sent after the tagged OK (normally none)
  // Timings on the attempt's TimeSource, in seconds; negative when not measured.
  // connect_seconds: from the connect to the backend ready for a command (TCP, TLS, greeting,
  // STARTTLS), whenever this attempt connected (also when the login then failed); not measured
  // on a warm connection or a failed connect. login_seconds (kLoggedIn only): from the start of
  // the attempt (the connect, or the LOGIN on a warm connection) to the backend's tagged OK.
  double connect_seconds = -1;
  double login_seconds = -1;
};

class BackendLogin final : public net::IoHandler, private ConnectorClient {
 public:
  using DoneFn = std::function<void(BackendLoginResult)>;
  // Starts the attempt. Never calls `done` before returning. With `client`, a backend that
  // advertises ID is sent the client's identity just before LOGIN (see client_identity.h).
  // Deadlines are measured on `time`. An error (the loop cannot make a timer) means nothing was
  // started and `done` will never run; a failed connect is reported through `done`. With `warm`
  // (a greeted connection from a WarmPool) there is no connect: the LOGIN goes out at once.
  static StatusOr<std::unique_ptr<BackendLogin>> Start(net::EventLoop* loop, const TimeSource* time,
                                                       const BackendTarget& target,
                                                       BackendCredentials credentials, DoneFn done,
                                                       char* scratch, size_t scratch_size,
                                                       const ClientIdentity* client = nullptr,
                                                       std::optional<BackendConnection> warm = std::nullopt);
  ~BackendLogin() override;

  void OnIo(net::IoWatcher* watcher, bool readable, bool writable) override;

  // For tests: true while this attempt still holds credentials — the LOGIN arguments or SASL
  // response, or `secret` anywhere in the output buffer's storage (its whole capacity, so a
  // copy left behind by a cleared-but-not-wiped buffer counts). False once they were sent.
  bool RetainsCredentials(std::string_view secret) const;

 private:
  enum class State { kConnecting, kSaslContinuation, kLoginUserContinuation, kLoginPassContinuation, kLoginReply, kPostLoginCapability, kDone };

  BackendLogin(net::EventLoop* loop, const TimeSource* time, const BackendTarget& target,
               BackendCredentials credentials, DoneFn done, char* scratch, size_t scratch_size,
               const ClientIdentity* client);
  Status Begin(std::optional<BackendConnection> warm);
  void OnTimer();
  // ConnectorClient: the backend is greeted (the LOGIN goes out in the same callback), or not.
  void OnBackendReady(BackendConnection connection) override;
  void OnBackendFailed(std::string detail) override;
  bool ReadLines();
  bool HandleBufferedLines();
  bool HandleLine(std::string_view line);
  void SendLogin();
  void SendBearer();  // AUTHENTICATE XOAUTH2 / OAUTHBEARER with the bearer token
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
  bool bearer_ = false;          // the credentials are a bearer token (BearerTokenCredentials)
  SecretString bearer_xoauth2_;  // its XOAUTH2 and OAUTHBEARER responses; one is sent, both wiped
  SecretString bearer_oauthbearer_;
  SecretString sasl_pending_;    // the response to send on the backend's "+" (no SASL-IR)
  std::string sasl_error_ack_;   // the answer to an error challenge ("" or "AQ=="), sent once
  bool sasl_error_acked_ = false;
  DoneFn done_;
  char* scratch_;
  size_t scratch_size_;

  State state_ = State::kConnecting;
  BackendConnectorPtr connector_;  // inert once it reported; kept until we are destroyed
  net::BufferedConnection conn_;   // from the connector, once the backend is greeted; its
                                   // output may hold the credentials and is wiped when written
  net::TimerPtr timer_;     // connect and greeting (the connector's), then the login deadline
  net::TimerPtr complete_;  // zero-delay: delivers the result from a fresh loop callback
  std::string input_;       // partial response line
  bool literal_plus_ = false;
  std::string id_command_;  // "A4 ID (...)\r\n", sent before LOGIN if the backend has ID
  std::string proxy_header_;  // PROXY v2 out (target.send_proxy_v2), for the connector
  std::string capabilities_;
  BackendLoginResult result_;
  std::chrono::steady_clock::time_point started_;  // Begin(): the connect, or the warm LOGIN
  double connect_seconds_ = -1;                    // set when the connector reported ready
  bool warm_ = false;                              // began on a warm connection (no connect)
  double login_seconds_ = -1;                      // set at the backend's tagged OK
};

using BackendLoginPtr = std::unique_ptr<BackendLogin>;

}  // namespace imapgate::upstream
