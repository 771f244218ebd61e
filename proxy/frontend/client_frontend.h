// ClientFrontend: the client side of a session before login — greeting, TLS (implicit or
// STARTTLS), the pre-auth command loop, bounds, error budget and timeouts.
//
// Owned by the Session on the worker that accepted the connection; single-threaded. It owns the
// client transport until login succeeds, then hands it over (TakeConnection). It talks to its
// owner only through FrontendDelegate, and never calls into later stages: a login request goes
// out as an event, and the owner answers with LoginRejected or TakeConnection, always from a
// later callback (never inside OnLoginRequested).
//
// Security transitions that live here and only here: LOGIN/AUTHENTICATE refused before TLS
// (NO [PRIVACYREQUIRED]); the STARTTLS upgrade, which refuses (BYE) if any byte follows the
// STARTTLS line in the parser's buffer or the socket, and resets all pre-TLS state; the error
// budget; the pre-auth byte budget; the pre-auth timeout, which bounds the whole connection
// (accept to login, STARTTLS included); the bound on unsent replies (no command is processed and
// nothing is read while more than max_queued_reply_bytes of replies wait for the client).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/secret.h"
#include "common/time_source.h"
#include "frontend/frontend_end.h"
#include "imap/command_parser.h"
#include "imap/preauth_command.h"
#include "net/buffered_connection.h"
#include "net/event_loop.h"
#include "net/io_watcher.h"
#include "net/socket.h"
#include "net/timer.h"
#include "net/transport.h"
#include "stats/metrics.h"
#include "tls/tls_context.h"
#include "tls/tls_transport.h"

namespace imapgate::frontend {

struct FrontendOptions {
  bool implicit_tls = true;                      // false: STARTTLS listener, TLS required before login
  const tls::TlsServerContext* tls = nullptr;    // not owned; outlives the session
  imap::ParserLimits parser;
  imap::IdLimits id;
  size_t max_preauth_bytes = 65536;
  int max_bad_commands = 10;
  int max_auth_attempts = 3;
  std::chrono::milliseconds preauth_timeout{60000};  // from accept to login, STARTTLS included
  std::chrono::milliseconds tls_handshake_timeout{10000};
  // Replies not yet taken by the client: ours, and on TCP the kernel's unsent bytes
  // (TCP_NOTSENT_LOWAT is set to this before login). Above it nothing more is read or processed.
  size_t max_queued_reply_bytes = 16384;
  const TimeSource* time = nullptr;  // null: the real clock; not owned
  // AUTHENTICATE mechanisms accepted and advertised (AUTH=<m>, in this order, with SASL-IR) once
  // TLS is active; each one of PLAIN, LOGIN, XOAUTH2, OAUTHBEARER (upper case), else Create()
  // fails. Any other mechanism is answered NO [CANNOT]. The IMAP LOGIN command is not governed
  // by this list.
  std::vector<std::string> sasl_mechanisms{"PLAIN", "LOGIN"};
  // Accept a SASL PLAIN authzid that differs from the user (true when master users are
  // configured): it goes in LoginRequest::authzid. When false such a login is refused with
  // NO [AUTHENTICATIONFAILED] (counted as a failed authentication) and never reaches the owner.
  bool allow_authzid = false;
};

// Credentials the client presented; the owner verifies them (issue A: by logging in to the
// backend). Secrets are wiped when the request is destroyed.
struct LoginRequest {
  std::string tag;
  // "LOGIN" (the IMAP LOGIN command), or the SASL mechanism of AUTHENTICATE: "PLAIN",
  // "SASL-LOGIN" (AUTHENTICATE LOGIN), "XOAUTH2", "OAUTHBEARER".
  std::string mechanism;
  SecretString user;
  SecretString password;  // the password, or the bearer token when `bearer`
  SecretString authzid;   // SASL authorization identity; empty: none (or the same as user)
  bool bearer = false;    // XOAUTH2 / OAUTHBEARER: `password` is an OAuth 2.0 bearer token
};

class FrontendDelegate {
 public:
  virtual ~FrontendDelegate() = default;
  // The client asked to log in; the frontend reads nothing more until answered.
  virtual void OnLoginRequested(LoginRequest request) = 0;
  // The TLS handshake finished or failed (its version, resumption and STARTTLS, or why it failed:
  // a failure class of tls::HandshakeFailureName, or "timeout" when tls_handshake_timeout or
  // the pre-auth deadline ended it). Once per handshake; the event's views live for the call.
  virtual void OnTlsHandshake(const stats::Metrics::TlsHandshakeEvent& event) = 0;
  // The session is over before login; the connection is closed. The owner may delete the
  // frontend only after this call returns (defer the deletion).
  virtual void OnFrontendEnded(FrontendEnd end) = 0;
  // A LOGIN or AUTHENTICATE was refused because TLS is not active yet (for a metric).
  virtual void OnCleartextLoginRefused() {}
  // The client's answer to a SendContinuation ("*" cancels); answer the login later, never
  // inside this call. Ignored by owners that never ask for a continuation.
  virtual void OnLoginContinuation(SecretString response) { (void)response; }
};

// What the relay needs from the frontend after a successful login.
struct ClientConnection {
  // The client connection, its watcher still registered (no handler); its queue holds the bytes
  // still to send to the client, starting with the tagged OK.
  net::BufferedConnection connection;
  WipingBytes pipelined_input; // bytes the client sent behind LOGIN, to forward to the backend
};

// How a login is refused: kAuthFailed "NO [AUTHENTICATIONFAILED]" (counted towards
// max_auth_attempts), kUnavailable "NO [UNAVAILABLE]" (a backend or service down, or an abuse
// block), kLimit "NO [LIMIT]" (a connection limit).
enum class LoginRejection { kAuthFailed, kUnavailable, kLimit };

class ClientFrontend final : public net::IoHandler {
 public:
  static StatusOr<std::unique_ptr<ClientFrontend>> Create(net::EventLoop* loop, net::UniqueFd fd,
                                                          const FrontendOptions& options,
                                                          FrontendDelegate* delegate,
                                                          char* scratch, size_t scratch_size);
  ~ClientFrontend() override;

  // Begins: TLS handshake (implicit) or the greeting (STARTTLS listener).
  void Start();
  // Begins like Start(), but where the greeting would go sends "* BYE <text>" and closes (a
  // connection refused by an abuse limit or block: after the TLS handshake on an implicit-TLS
  // listener, so the client can read it). The session ends with FrontendEnd::kRefused.
  void StartRefusing(std::string text);
  // Answers a pending login with NO and resumes reading (or BYE after too many failures).
  // `text`: the NO's text instead of the generic one (printable ASCII, at most 256 bytes: an auth
  // source's refusal, or an abuse limit's reason); empty for the generic one.
  void LoginRejected(LoginRejection why, std::string_view text = {});
  // Answers a pending login with "<tag> OK [CAPABILITY caps] Logged in" and gives the
  // connection to the caller. The frontend is inert afterwards. Refused (an error, nothing
  // changes) unless a login is pending: e.g. a pre-auth timeout or a shutdown is closing the
  // session while the backend login ran; the caller drops the backend connection and lets the
  // frontend finish its close (OnFrontendEnded follows).
  StatusOr<ClientConnection> TakeConnection(const std::string& client_capabilities);
  // True while a login request is waiting for LoginRejected or TakeConnection.
  bool AwaitingLogin() const { return state_ == State::kAwaitingLogin; }
  // Replies queued in user space, not yet written to the socket (for tests and diagnostics).
  size_t queued_output_bytes() const { return conn_.queued_bytes(); }
  // Sends "* BYE <text>" and closes (server shutdown).
  void Shutdown(const char* text);
  // While a login is pending: sends "+ <payload>" (a SASL challenge from a login step) and reads
  // one response line, which goes to FrontendDelegate::OnLoginContinuation.
  void SendContinuation(std::string_view payload);
  // While a login is pending: re-arms the pre-login timer to fire `delay` from now, for a login
  // step that may wait longer than the pre-login budget (a push approval).
  void ExtendTimeout(std::chrono::milliseconds delay);

  // "TLSv1.3", ... or "none".
  std::string TlsVersion() const;
  // The SNI name the client asked for ("" without TLS or SNI).
  std::string TlsServerName() const { return tls_ != nullptr ? tls_->RequestedServerName() : std::string(); }
  // The client's ID parameters (RFC 2971) from its last ID command before login; bounded by the
  // parser's ID limits.
  const std::vector<std::pair<std::string, std::string>>& client_id() const { return client_id_; }
  // The client socket (-1 once the connection was taken); for getsockname and the like.
  int fd() const { return conn_.fd(); }
  // True once the client's connection is TLS (implicit, or after STARTTLS).
  bool IsTls() const { return tls_active(); }

  void OnIo(net::IoWatcher* watcher, bool readable, bool writable) override;

 private:
  enum class State { kHandshake, kReading, kAwaitingSasl, kAwaitingLogin, kFlushThenTls, kClosing, kDone };

  ClientFrontend(const FrontendOptions& options, FrontendDelegate* delegate, char* scratch,
                 size_t scratch_size);
  void DoHandshake();
  void SendGreeting();
  void ReadAndProcess();
  void ProcessEvents();
  void HandleCommand(imap::Command command);
  void HandleSaslResponse(SecretString response);
  void HandleAuthenticate(imap::PreAuthCommand& command);
  void HandleStartTls(const std::string& tag);
  void UpgradeToTls();
  // Sends "+ <payload>" and waits for the next line of the AUTHENTICATE exchange.
  void AskSasl(std::string_view payload);
  // Ends the AUTHENTICATE exchange (back to commands) and wipes what it held.
  void EndSasl();
  // NO [AUTHENTICATIONFAILED] to `tag`, counted towards max_auth_attempts (BYE at the limit).
  void RefuseAuthentication(const std::string& tag, std::string_view text = {});
  bool MechanismAllowed(std::string_view mechanism) const;
  void RequestLogin(LoginRequest request);
  void CountBad();
  void Send(std::string_view bytes);
  void Flush();
  void CloseWith(FrontendEnd end, std::string_view final_bytes);
  void FinishClose();
  void OnTimeout();
  void UpdateInterest();
  // Arms the timer for min(limit, time left before the pre-auth deadline).
  void ArmWithinDeadline(std::chrono::milliseconds limit);
  // True while more replies wait than max_queued_reply_bytes (reading and processing pause).
  bool RepliesBacklogged() const { return conn_.queued_bytes() > options_.max_queued_reply_bytes; }
  bool tls_active() const { return options_.implicit_tls || starttls_done_; }

  FrontendOptions options_;
  FrontendDelegate* delegate_;
  char* scratch_;
  size_t scratch_size_;

  State state_ = State::kHandshake;
  net::BufferedConnection conn_;      // the client's transport, watcher and unsent replies
  tls::TlsTransport* tls_ = nullptr;  // == conn_'s transport once TLS is on; not owning
  std::vector<std::pair<std::string, std::string>> client_id_;  // see client_id()
  net::TimerPtr timer_;
  imap::CommandParser parser_;
  bool input_during_login_ = false;  // readable while a login was in flight (pipelining)
  bool paused_ = false;              // commands wait in the parser until replies drain
  std::chrono::steady_clock::time_point preauth_deadline_;
  FrontendEnd end_ = FrontendEnd::kClientClosed;

  bool starttls_done_ = false;
  size_t preauth_bytes_ = 0;
  int bad_commands_ = 0;
  int auth_failures_ = 0;
  std::string refusal_;      // StartRefusing: "* BYE ...\r\n" sent instead of the greeting
  std::string pending_tag_;  // tag of the LOGIN/AUTHENTICATE awaiting an answer
  std::string sasl_tag_;     // tag of the AUTHENTICATE awaiting its continuation line
  std::string sasl_mechanism_;  // its (upper-case) mechanism
  bool sasl_login_password_ = false;  // LOGIN mechanism: the awaited line is the password
  SecretString sasl_login_user_;      // LOGIN mechanism: the user name, once received
  bool step_continuation_ = false;  // the awaited SASL line answers a login step (SendContinuation)
};

using ClientFrontendPtr = std::unique_ptr<ClientFrontend>;

}  // namespace imapgate::frontend
