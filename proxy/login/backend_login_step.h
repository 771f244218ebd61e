// BackendLoginStep: the connect step. It routes the user to a shard (route::Router: an earlier
// step's route, an override, a domain rule or the hash), takes the first backend of that shard,
// in failover order, that the health table says may take a login (up and not draining), and logs
// in there (upstream::BackendLogin) with the attempt's backend credentials (the client's own
// unless an earlier step set others). It accepts with the logged-in connection in
// attempt.backend and the route (shard, backend, why) in attempt.route.
//
// Failover, within the same login: when a backend cannot be used (connect refused or timed out,
// TLS, greeting, a protocol error or a dropped connection), it is marked failed in the health
// table (a passive check) and the next usable backend of the same shard is tried. A user is
// never sent to another shard's backend: the mail is not there. When none is left the login is
// refused as unavailable; a NO to the credentials is a NO, never a reason to try elsewhere. A
// login may start on a warm connection (upstream::WarmPool); if that one fails before the
// backend answered, the same backend is tried once more with a fresh connect (a warm connection
// going stale is not the backend's failure). When
// the health table marks every backend of the shard down, the first one not draining still gets
// one real try (the marks may be stale: a restarted backend waits for its rise count).
//
// Metrics (pool.metrics, when set): each try's connect latency (a fresh connect that reached the
// backend), the login latency of the try that logged in, and imapgate_backend_errors_total for
// each backend found unusable (by that backend's metrics_index; a stale warm connection is not
// counted).
#pragma once

#include "common/time_source.h"
#include "login/backend_pool.h"
#include "login/login_pipeline.h"
#include "net/event_loop.h"
#include "upstream/backend_login.h"
#include "upstream/warm_pool.h"

namespace imapgate::login {

class BackendLoginStep final : public LoginStep {
 public:
  // Everything is borrowed and outlives the step (the pool is the session's generation's).
  BackendLoginStep(net::EventLoop* loop, const TimeSource* time, const BackendPool* pool, char* scratch,
                   size_t scratch_size)
      : loop_(loop), time_(time), pool_(pool), scratch_(scratch), scratch_size_(scratch_size) {}

  std::string_view name() const override { return "backend_login"; }
  Phase phase() const override { return Phase::kConnect; }
  // BackendLogin bounds each try (connect and login timeouts).
  std::unique_ptr<StepRequest> Begin(LoginAttempt& attempt, StepContext& context) override;

  const BackendPool& pool() const { return *pool_; }
  // The pool the next login uses (a session's login takes the worker's newest generation's);
  // it must outlive the login.
  void set_pool(const BackendPool* pool) { pool_ = pool; }
  // The worker's warm connections (null: none); a login takes one for its backend when it can.
  void set_warm_pool(upstream::WarmPool* warm) { warm_ = warm; }
  upstream::WarmPool* warm_pool() const { return warm_; }
  net::EventLoop* loop() const { return loop_; }
  const TimeSource* time() const { return time_; }
  char* scratch() const { return scratch_; }
  size_t scratch_size() const { return scratch_size_; }

 private:
  net::EventLoop* loop_;
  const TimeSource* time_;
  const BackendPool* pool_;
  upstream::WarmPool* warm_ = nullptr;
  char* scratch_;
  size_t scratch_size_;
};

}  // namespace imapgate::login
