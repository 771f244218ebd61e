// BackendLoginStep: the connect step that logs in to the backend (upstream::BackendLogin) with
// the attempt's backend credentials (the client's own unless an earlier step set others) and
// accepts with the logged-in connection in attempt.backend. Today the only step of the pipeline:
// with pass-through authentication the backend's answer is the authentication.
#pragma once

#include "common/time_source.h"
#include "login/login_pipeline.h"
#include "net/event_loop.h"
#include "upstream/backend_login.h"

namespace imapgate::login {

class BackendLoginStep final : public LoginStep {
 public:
  // Everything is borrowed and outlives the step; `target` is where every login goes until the
  // router (issue D) picks one per attempt.
  BackendLoginStep(net::EventLoop* loop, const TimeSource* time, const upstream::BackendTarget* target,
                   char* scratch, size_t scratch_size)
      : loop_(loop), time_(time), target_(target), scratch_(scratch), scratch_size_(scratch_size) {}

  std::string_view name() const override { return "backend_login"; }
  Phase phase() const override { return Phase::kConnect; }
  // BackendLogin bounds itself (connect and login timeouts).
  std::unique_ptr<StepRequest> Begin(LoginAttempt& attempt, StepContext& context) override;

  const upstream::BackendTarget& target() const { return *target_; }

 private:
  net::EventLoop* loop_;
  const TimeSource* time_;
  const upstream::BackendTarget* target_;
  char* scratch_;
  size_t scratch_size_;
};

}  // namespace imapgate::login
