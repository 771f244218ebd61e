// AuthStep: the login pipeline's check step for issue B — the auth chain and the second factor.
//
// For one login it asks the listener's chain of sources in order (auth_services.h plans them):
//   * file:    the users file. The hash check runs on the hash pool (never on the loop); while it
//              runs the session reads nothing more (the frontend waits for the verdict). A full
//              pool answers NO [UNAVAILABLE] at once. A good check is remembered in the auth cache
//              (keyed hash of user and password, with a TTL). Then the second factor: TOTP (code
//              appended to the password, replay-checked), an app password (satisfies it alone),
//              a remembered device, or the push hook. An unknown user is rejected at the cost of
//              a known one, or handed to the next source with `unknown_users: next`.
//   * http:    an nginx auth_http service (GET, keep-alive, a timeout; the request is cancelled
//              when the login is). OK may carry a route (Auth-Server/Auth-Port: the shard of the
//              configured backend at that address) and backend credentials (Auth-User/Pass);
//              a failure with Auth-Wait is answered after the wait.
//   * backend: the end of the chain: nothing is decided here, the backend checks the client's
//              credentials (A's pass-through).
// It answers Accept (the user is authenticated; route and credentials recorded on the attempt),
// Reject (kAuthFailed, the same for every wrong factor; kUnavailable for a service or pool that
// cannot answer: 2FA fails closed) or Continue (pass-through to the backend).
//
// WorkerAuth is one worker's auth runtime for one configuration generation: its steps (one per
// listener), its HTTP clients (keep-alive connections are per worker) and the push hook client.
// Loop thread only; sessions hold it by shared_ptr while a login runs.
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "auth/auth_services.h"
#include "common/time_source.h"
#include "httpc/http_client.h"
#include "login/backend_pool.h"
#include "login/login_pipeline.h"
#include "net/event_loop.h"
#include "stats/metrics.h"

namespace imapgate::auth {

class WorkerAuth;

class AuthStep final : public login::LoginStep {
 public:
  AuthStep(WorkerAuth* owner, size_t listener) : owner_(owner), listener_(listener) {}
  std::string_view name() const override { return "auth"; }
  Phase phase() const override { return Phase::kCheck; }
  std::chrono::milliseconds timeout() const override;
  std::unique_ptr<login::StepRequest> Begin(login::LoginAttempt& attempt, login::StepContext& context) override;

 private:
  WorkerAuth* owner_;
  size_t listener_;
};

class WorkerAuth {
 public:
  // `pool` is the generation's (for Auth-Server routes); `keepalive` keeps it (the generation)
  // alive as long as this runtime. metrics may be null (tests).
  static StatusOr<std::shared_ptr<WorkerAuth>> Create(net::EventLoop* loop, const TimeSource* time,
                                                      login::TicketRegistry* tickets, stats::Metrics* metrics,
                                                      std::shared_ptr<const GenerationAuth> plan,
                                                      const login::BackendPool* pool,
                                                      std::shared_ptr<const void> keepalive);
  // The step for listener `index` (config order); null when its chain only passes through.
  login::LoginStep* StepFor(size_t index) const;

  net::EventLoop* loop() const { return loop_; }
  const TimeSource* time() const { return time_; }
  login::TicketRegistry* tickets() const { return tickets_; }
  stats::Metrics* metrics() const { return metrics_; }
  const GenerationAuth& plan() const { return *plan_; }
  const login::BackendPool* pool() const { return pool_; }
  httpc::HttpClient* http(size_t source) const { return http_[source].get(); }
  httpc::HttpClient* push() const { return push_.get(); }

 private:
  WorkerAuth() = default;
  net::EventLoop* loop_ = nullptr;
  const TimeSource* time_ = nullptr;
  login::TicketRegistry* tickets_ = nullptr;
  stats::Metrics* metrics_ = nullptr;
  std::shared_ptr<const GenerationAuth> plan_;
  const login::BackendPool* pool_ = nullptr;
  std::shared_ptr<const void> keepalive_;
  std::vector<std::unique_ptr<httpc::HttpClient>> http_;  // by source index; null for non-http
  std::unique_ptr<httpc::HttpClient> push_;
  std::vector<std::unique_ptr<AuthStep>> steps_;  // by listener; null: pass-through only
};

using WorkerAuthPtr = std::shared_ptr<WorkerAuth>;

}  // namespace imapgate::auth
