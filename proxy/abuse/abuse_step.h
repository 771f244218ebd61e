// AbuseCheckStep: the login pipeline's first check step (issue C) — before any credential is
// checked, it looks the login's keys up in the abuse store and refuses (a blocked address or
// subnet, a blocklisted address, a user under attack from an address that never succeeded for
// it), delays (the tarpit, on a timer: a delayed login holds no thread), or lets the login go on.
// It also marks the attempt with the counted address and the fingerprints that
// WorkerAbuse::OnLoginDecided counts a failure with.
//
// Shared by every login of one worker and generation (owned by its WorkerAbuse); each login's
// state is an AbuseCheckRequest, cancelled by destroying it (its timer, and the answer of a store
// still in flight, are dropped). Runs on the worker's loop.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "login/login_pipeline.h"

namespace imapgate::abuse {

class WorkerAbuse;

class AbuseCheckStep final : public login::LoginStep {
 public:
  explicit AbuseCheckStep(WorkerAbuse* owner) : owner_(owner) {}
  std::string_view name() const override { return "abuse"; }
  Phase phase() const override { return Phase::kCheck; }
  // The longest tarpit plus the store's and the hook's time, and a margin.
  std::chrono::milliseconds timeout() const override;
  std::unique_ptr<login::StepRequest> Begin(login::LoginAttempt& attempt, login::StepContext& context) override;

 private:
  WorkerAbuse* owner_;
};

}  // namespace imapgate::abuse
