// Test doubles for the login pipeline's seams (no sockets, no sleeps): a step whose answers the
// test scripts (at once inside Begin, or later from the test body), and a host that records
// what the pipeline asked of it and fires the step timer when the test says so.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "login/login_pipeline.h"

namespace imapgate::login {

class ScriptedStep final : public LoginStep {
 public:
  ScriptedStep(std::string name, Phase phase, std::chrono::milliseconds timeout = std::chrono::milliseconds(0))
      : name_(std::move(name)), phase_(phase), timeout_(timeout) {}
  // A request may outlive its step (a host keeps retired requests until the fixture ends, after
  // the test body's steps are gone): it then no longer reports to it.
  ~ScriptedStep() override {
    for (Request* r : requests_) r->step_ = nullptr;
  }

  // Answer inside Begin() with this verdict (else the step waits for Answer()).
  std::optional<Verdict> immediate;
  // Begin() answers but returns no request (a step that could not start).
  bool fail_to_start = false;

  std::string_view name() const override { return name_; }
  Phase phase() const override { return phase_; }
  std::chrono::milliseconds timeout() const override { return timeout_; }

  class Request final : public StepRequest {
   public:
    explicit Request(ScriptedStep* step) : step_(step) { step_->requests_.push_back(this); }
    ~Request() override {
      if (step_ == nullptr) return;
      std::erase(step_->requests_, this);
      if (step_->live_ == this) {
        step_->live_ = nullptr;
        ++step_->cancelled;
      }
    }
    void OnClientResponse(SecretString response) override {
      if (step_ != nullptr) step_->responses.push_back(std::string(response.view()));
    }
    ScriptedStep* step_;  // null once the step is gone
  };

  std::unique_ptr<StepRequest> Begin(LoginAttempt& attempt, StepContext& context) override {
    ++begun;
    seen_user = attempt.user;
    context_ = &context;
    ticket = context.ticket();
    if (fail_to_start) return nullptr;
    if (immediate) {
      context.Done(std::move(*immediate));
      immediate.reset();
      return std::make_unique<Request>(this);  // answered: not live
    }
    auto r = std::make_unique<Request>(this);
    live_ = r.get();
    return r;
  }

  // Answers the waiting request from "a later callback".
  void Answer(Verdict v) {
    live_ = nullptr;
    context_->Done(std::move(v));
  }
  void AskClient(std::string_view payload) { context_->SendContinuation(payload); }
  bool waiting() const { return live_ != nullptr; }

  int begun = 0;
  int cancelled = 0;
  std::string seen_user;
  Ticket ticket;
  std::vector<std::string> responses;

 private:
  std::string name_;
  Phase phase_;
  std::chrono::milliseconds timeout_;
  StepContext* context_ = nullptr;
  Request* live_ = nullptr;
  std::vector<Request*> requests_;  // every request of this step still alive
};

class RecordingHost final : public PipelineHost {
 public:
  void ArmStepTimer(std::chrono::milliseconds delay) override { timer = delay; }
  void CancelStepTimer() override { timer.reset(); }
  void DeleteLater(std::unique_ptr<StepRequest> request) override { retired.push_back(std::move(request)); }
  void SendContinuation(std::string_view payload) override { continuations.push_back(std::string(payload)); }
  void OnLoginDecided(const Verdict& verdict, std::string_view step) override {
    ++decisions;
    kind = verdict.kind;
    reason = verdict.reason;
    detail = verdict.detail;
    decided_step = std::string(step);
  }

  // The timer fires now, as the loop would.
  void FireTimer(LoginPipeline& p) {
    ASSERT_TRUE(timer.has_value());
    timer.reset();
    p.OnStepTimeout();
  }

  std::optional<std::chrono::milliseconds> timer;
  std::vector<std::unique_ptr<StepRequest>> retired;
  std::vector<std::string> continuations;
  int decisions = 0;
  VerdictKind kind = VerdictKind::kContinue;
  RejectReason reason = RejectReason::kInternal;
  std::string detail;
  std::string decided_step;
};

}  // namespace imapgate::login
