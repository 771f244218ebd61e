// LoginPipeline: the ordered, asynchronous, cancellable list of steps one login goes through.
//
//   client LOGIN/AUTHENTICATE
//     → [check steps]   rate limits (C) → auth sources (B) → second factor (B)
//     → [connect steps] router (D) → backend login (A, today's only step)
//     → accept: the Session hands the client and the logged-in backend to the relay
//
// Each step answers with a Verdict: Continue (the next step runs; the step may have added a
// route or backend credentials to the attempt), Accept (a check step: the user is authenticated,
// the remaining check steps are skipped and the connect steps run; a connect step: the login is
// done) or Reject (with a reason; the login ends). A step may answer inside Begin() or later from
// a callback on the same worker; work done off the worker answers through a Ticket
// (ticket_registry.h) that resolves to nothing once the login is gone. Destroying the pipeline
// (or a step timeout) destroys the step's request, which cancels it.
//
// The pipeline is pure logic: it does no I/O and reads no clock. Its host (the Session) provides
// the step timer, deferred deletion, the SASL continuation to the client and the final answer.
// Single-threaded: everything runs on the owning worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/secret.h"
#include "login/ticket_registry.h"
#include "net/socket.h"
#include "upstream/backend_credentials.h"
#include "upstream/backend_login.h"

namespace imapgate::login {

// Where a login goes (filled by the router of issue D, or by an auth source's answer).
struct Route {
  std::string shard;
  std::string backend;
  std::string source;  // "override", "domain", "hash", "auth", ...: why, for logs and metrics
  size_t backend_index = SIZE_MAX;  // into the BackendPool's backends, once the connect step chose
};

// Why a login was refused; the Session maps it to the client's answer.
enum class RejectReason {
  kAuthFailed,   // NO [AUTHENTICATIONFAILED]
  kUnavailable,  // NO [UNAVAILABLE]: a backend or a service is down
  kLimited,      // NO [LIMIT] / [UNAVAILABLE]: a rate limit (issue C)
  kTimeout,      // a step did not answer within its timeout
  kInternal,     // no step decided, or a step could not start
};
const char* RejectReasonName(RejectReason reason);

enum class VerdictKind { kContinue, kAccept, kReject };

struct Verdict {
  VerdictKind kind = VerdictKind::kContinue;
  RejectReason reason = RejectReason::kAuthFailed;  // kReject
  std::string detail;                                // for logs; never a secret
  // kReject with kAuthFailed: the text of the client's NO instead of the generic one (an nginx
  // auth_http service's Auth-Status text); printable ASCII, bounded; "" for the generic text.
  std::string client_text;
  std::optional<Route> route;                        // kAccept/kContinue: recorded on the attempt
  std::optional<upstream::BackendCredentials> credentials;

  static Verdict Continue() { return Verdict{}; }
  static Verdict Accept(std::optional<Route> route = std::nullopt,
                        std::optional<upstream::BackendCredentials> credentials = std::nullopt);
  static Verdict Reject(RejectReason reason, std::string detail);
};

// The login in flight: what the client presented, and what the steps have added so far.
struct LoginAttempt {
  std::string session_id;
  std::string user;  // as the client gave it
  SecretString password;
  std::string mechanism;  // frontend::LoginRequest::mechanism: "LOGIN", "PLAIN", "SASL-LOGIN", ...
  std::string authzid;    // SASL authorization identity ("" when none); only with master users
  bool bearer = false;    // `password` holds an OAuth 2.0 bearer token (XOAUTH2, OAUTHBEARER)
  net::SocketAddress client;
  net::SocketAddress local;
  bool client_tls = false;
  std::string tls_version;  // "TLSv1.3", ... ("none" before TLS)
  std::string tls_server_name;  // the client's SNI, "" when none
  std::vector<std::pair<std::string, std::string>> client_id;  // the client's ID parameters
  int number = 1;           // this login's ordinal within its session (1, 2, ...)
  bool authenticated = false;  // a check step accepted
  std::string app_password;    // the app password (its device name) that authenticated; "" when none
  // Set by the abuse check (issue C) when this login is counted: the client address counted (the
  // socket's, PROXY's, or a trusted peer's ID x-originating-ip), its subnet, and keyed
  // fingerprints of (user, password) and of the user (never the secret). Empty/0: not counted.
  std::string abuse_address;
  std::string abuse_subnet;
  uint32_t password_fingerprint = 0;
  uint32_t user_fingerprint = 0;
  bool policy_rejected = false;  // the auth_policy hook refused this login
  std::optional<Route> route;
  std::optional<upstream::BackendCredentials> credentials;  // default: the client's own
  int failovers = 0;  // backends of the shard tried and found unusable during this login
  // Set by the connect step that logged in: the backend connection for the relay.
  std::optional<upstream::BackendLoginResult> backend;
};

// One running step. Destroying it cancels it: it must then never answer.
class StepRequest {
 public:
  virtual ~StepRequest() = default;
  // The client's answer to a continuation the step asked for (SASL); "*" means cancel.
  virtual void OnClientResponse(SecretString response) { (void)response; }
};

class StepContext;

// A kind of step, shared by every login of a worker (holds configuration, not per-login state).
class LoginStep {
 public:
  enum class Phase { kCheck, kConnect };
  virtual ~LoginStep() = default;
  virtual std::string_view name() const = 0;
  virtual Phase phase() const = 0;
  // How long the pipeline waits for this step; zero: the step bounds itself.
  virtual std::chrono::milliseconds timeout() const { return std::chrono::milliseconds(0); }
  // Starts the step for `attempt`. The step answers through context.Done(), at most once,
  // inside Begin() or later on the worker; null means it answered already (or cannot run).
  virtual std::unique_ptr<StepRequest> Begin(LoginAttempt& attempt, StepContext& context) = 0;
};

// What the pipeline's owner provides.
class PipelineHost {
 public:
  virtual ~PipelineHost() = default;
  // Arms (re-arms) or cancels the one step timer; when it fires, call LoginPipeline::OnStepTimeout.
  virtual void ArmStepTimer(std::chrono::milliseconds delay) = 0;
  virtual void CancelStepTimer() = 0;
  // Frees a finished request outside the callback it may still be running in.
  virtual void DeleteLater(std::unique_ptr<StepRequest> request) = 0;
  // Sends "+ <payload>" to the client; the answer comes back as LoginPipeline::OnClientResponse.
  virtual void SendContinuation(std::string_view payload) = 0;
  // The login is decided (accept: attempt().backend holds the connection, if a step made one).
  // Called once, never inside Start(); the host must defer destroying the pipeline.
  virtual void OnLoginDecided(const Verdict& verdict, std::string_view step) = 0;
};

class LoginPipeline;

// The handle a running step answers through; valid while its request lives.
class StepContext {
 public:
  // The step's verdict (once).
  void Done(Verdict verdict);
  // Asks the client for a SASL continuation ("+ <payload>").
  void SendContinuation(std::string_view payload);
  // A token for work off the worker: post TicketRegistry::Deliver(ticket, verdict) to the loop.
  Ticket ticket() const;
  TicketRegistry* registry() const;

 private:
  friend class LoginPipeline;
  explicit StepContext(LoginPipeline* pipeline) : pipeline_(pipeline) {}
  LoginPipeline* pipeline_;
};

class LoginPipeline {
 public:
  // `steps` and `registry` outlive the pipeline; the host owns it.
  LoginPipeline(std::span<LoginStep* const> steps, LoginAttempt attempt, PipelineHost* host,
                TicketRegistry* registry);
  ~LoginPipeline();
  LoginPipeline(const LoginPipeline&) = delete;
  LoginPipeline& operator=(const LoginPipeline&) = delete;

  // Runs the first step. The decision never reaches the host inside Start(): if every step
  // answered at once, the pipeline arms the step timer with zero delay and reports from there.
  void Start();
  // The host's step timer fired.
  void OnStepTimeout();
  // The client answered a continuation.
  void OnClientResponse(SecretString response);
  // From TicketRegistry::Deliver: a late result for the step holding `ticket`.
  bool OnTicketVerdict(Ticket ticket, Verdict verdict);
  // The running step's request if `ticket` is still its ticket; null otherwise (the step ended,
  // or the login is gone). For a step that receives intermediate results from other threads
  // (see PostToRequest).
  StepRequest* RequestForTicket(Ticket ticket);

  LoginAttempt& attempt() { return attempt_; }
  bool decided() const { return decided_; }
  // The step now running ("" when none).
  std::string_view current_step() const;

 private:
  friend class StepContext;
  void OnVerdict(Verdict verdict);
  void EndStep();
  // Applies a verdict; true if another step should run.
  bool Apply(Verdict verdict);
  void RunSteps();
  void Decide(Verdict verdict);

  std::span<LoginStep* const> steps_;
  LoginAttempt attempt_;
  PipelineHost* host_;
  TicketRegistry* registry_;
  StepContext context_;
  size_t index_ = 0;
  std::unique_ptr<StepRequest> request_;
  Ticket ticket_;
  bool in_begin_ = false;
  bool in_start_ = false;
  bool decided_ = false;
  std::optional<Verdict> answered_in_begin_;
  std::optional<Verdict> decision_;  // a decision reached inside Start(), reported from the timer
  std::string decided_step_;
};

}  // namespace imapgate::login
