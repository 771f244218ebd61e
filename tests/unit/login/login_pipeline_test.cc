// Tests for login::LoginPipeline with scripted steps and a recording host (fake_steps.h): the
// order of steps, what accept/continue/reject do in each phase, answers inside Begin() versus
// later, cancellation by destruction, the per-step timeout, SASL continuations, and late
// off-worker results through tickets. No sockets, no sleeps, no clock.

#include "login/login_pipeline.h"

#include <gtest/gtest.h>

#include <vector>

#include "fake_steps.h"

namespace imapgate::login {
namespace {

using namespace std::chrono_literals;
using Phase = LoginStep::Phase;

class LoginPipelineTest : public ::testing::Test {
 protected:
  std::unique_ptr<LoginPipeline> Make(std::vector<LoginStep*> steps) {
    steps_ = std::move(steps);
    LoginAttempt attempt;
    attempt.user = "alice";
    attempt.password = SecretString("pw");
    return std::make_unique<LoginPipeline>(std::span<LoginStep* const>(steps_), std::move(attempt), &host_,
                                           &registry_);
  }

  std::vector<LoginStep*> steps_;
  RecordingHost host_;
  TicketRegistry registry_;
};

TEST_F(LoginPipelineTest, ConnectStepThatAcceptsLaterDecidesTheLogin) {
  ScriptedStep backend("backend_login", Phase::kConnect);
  auto p = Make({&backend});
  p->Start();
  EXPECT_EQ(backend.begun, 1);
  EXPECT_EQ(backend.seen_user, "alice");
  EXPECT_EQ(host_.decisions, 0);
  EXPECT_EQ(p->current_step(), "backend_login");
  backend.Answer(Verdict::Accept());
  EXPECT_EQ(host_.decisions, 1);
  EXPECT_EQ(host_.kind, VerdictKind::kAccept);
  EXPECT_EQ(host_.decided_step, "backend_login");
  // The request answered from its own callback: it is handed back for deferred deletion.
  EXPECT_EQ(host_.retired.size(), 1u);
  EXPECT_EQ(backend.cancelled, 0);
  EXPECT_EQ(registry_.live(), 0u);
}

TEST_F(LoginPipelineTest, ContinueRunsTheNextStepInOrder) {
  ScriptedStep limits("rate_limit", Phase::kCheck);
  ScriptedStep auth("auth", Phase::kCheck);
  ScriptedStep backend("backend_login", Phase::kConnect);
  limits.immediate = Verdict::Continue();
  auto p = Make({&limits, &auth, &backend});
  p->Start();
  EXPECT_EQ(limits.begun, 1);
  EXPECT_EQ(auth.begun, 1);
  EXPECT_EQ(backend.begun, 0);
  auth.Answer(Verdict::Continue());
  EXPECT_EQ(backend.begun, 1);
  EXPECT_EQ(host_.decisions, 0);
}

TEST_F(LoginPipelineTest, AcceptFromACheckSkipsTheOtherChecksAndRunsTheConnectSteps) {
  ScriptedStep auth("auth", Phase::kCheck);
  ScriptedStep otp("second_factor", Phase::kCheck);
  ScriptedStep router("router", Phase::kConnect);
  ScriptedStep backend("backend_login", Phase::kConnect);
  router.immediate = Verdict::Continue();
  auto p = Make({&auth, &otp, &router, &backend});
  p->Start();
  auth.Answer(Verdict::Accept(Route{"shard-a", "a1", "auth"},
                              upstream::ClientOwnCredentials{SecretString("alice"), SecretString("pw")}));
  EXPECT_EQ(otp.begun, 0);
  EXPECT_EQ(router.begun, 1);
  EXPECT_EQ(backend.begun, 1);
  EXPECT_TRUE(p->attempt().authenticated);
  ASSERT_TRUE(p->attempt().route.has_value());
  EXPECT_EQ(p->attempt().route->shard, "shard-a");
  EXPECT_TRUE(p->attempt().credentials.has_value());
  EXPECT_EQ(host_.decisions, 0);
  backend.Answer(Verdict::Accept());
  EXPECT_EQ(host_.decisions, 1);
  EXPECT_EQ(host_.decided_step, "backend_login");
}

TEST_F(LoginPipelineTest, AcceptFromTheLastCheckWithNoConnectStepDecides) {
  ScriptedStep auth("auth", Phase::kCheck);
  auto p = Make({&auth});
  p->Start();
  auth.Answer(Verdict::Accept());
  EXPECT_EQ(host_.decisions, 1);
  EXPECT_EQ(host_.kind, VerdictKind::kAccept);
  EXPECT_EQ(host_.decided_step, "auth");
}

TEST_F(LoginPipelineTest, RejectEndsTheLoginWithItsReason) {
  ScriptedStep limits("rate_limit", Phase::kCheck);
  ScriptedStep backend("backend_login", Phase::kConnect);
  auto p = Make({&limits, &backend});
  p->Start();
  limits.Answer(Verdict::Reject(RejectReason::kLimited, "address blocked"));
  EXPECT_EQ(host_.decisions, 1);
  EXPECT_EQ(host_.kind, VerdictKind::kReject);
  EXPECT_EQ(host_.reason, RejectReason::kLimited);
  EXPECT_EQ(host_.detail, "address blocked");
  EXPECT_EQ(host_.decided_step, "rate_limit");
  EXPECT_EQ(backend.begun, 0);
}

TEST_F(LoginPipelineTest, NoStepDecidingIsAnInternalReject) {
  ScriptedStep a("a", Phase::kCheck);
  auto p = Make({&a});
  p->Start();
  a.Answer(Verdict::Continue());
  EXPECT_EQ(host_.decisions, 1);
  EXPECT_EQ(host_.reason, RejectReason::kInternal);
}

TEST_F(LoginPipelineTest, AStepThatCannotStartIsAnInternalReject) {
  ScriptedStep a("a", Phase::kConnect);
  a.fail_to_start = true;
  auto p = Make({&a});
  p->Start();
  ASSERT_TRUE(host_.timer.has_value());
  host_.FireTimer(*p);
  EXPECT_EQ(host_.decisions, 1);
  EXPECT_EQ(host_.reason, RejectReason::kInternal);
  EXPECT_EQ(registry_.live(), 0u);
}

TEST_F(LoginPipelineTest, ADecisionReachedInsideStartIsReportedFromTheTimer) {
  ScriptedStep limits("rate_limit", Phase::kCheck);
  limits.immediate = Verdict::Reject(RejectReason::kLimited, "blocked");
  auto p = Make({&limits});
  p->Start();
  EXPECT_EQ(host_.decisions, 0) << "the host must never hear the outcome inside Start()";
  ASSERT_TRUE(host_.timer.has_value());
  EXPECT_EQ(*host_.timer, 0ms);
  host_.FireTimer(*p);
  EXPECT_EQ(host_.decisions, 1);
  EXPECT_EQ(host_.reason, RejectReason::kLimited);
}

TEST_F(LoginPipelineTest, DestroyingThePipelineCancelsTheWaitingStep) {
  ScriptedStep backend("backend_login", Phase::kConnect);
  auto p = Make({&backend});
  p->Start();
  ASSERT_TRUE(backend.waiting());
  EXPECT_EQ(registry_.live(), 1u);
  p.reset();
  EXPECT_EQ(backend.cancelled, 1);
  EXPECT_EQ(host_.decisions, 0);
  EXPECT_EQ(registry_.live(), 0u);
}

TEST_F(LoginPipelineTest, StepTimeoutCancelsTheStepAndRejects) {
  ScriptedStep push("second_factor", Phase::kCheck, 60s);
  ScriptedStep backend("backend_login", Phase::kConnect);
  auto p = Make({&push, &backend});
  p->Start();
  ASSERT_TRUE(host_.timer.has_value());
  EXPECT_EQ(*host_.timer, 60s);
  host_.FireTimer(*p);
  EXPECT_EQ(push.cancelled, 1);
  EXPECT_EQ(host_.decisions, 1);
  EXPECT_EQ(host_.reason, RejectReason::kTimeout);
  EXPECT_EQ(host_.detail, "second_factor timed out");
  EXPECT_EQ(backend.begun, 0);
  EXPECT_EQ(registry_.live(), 0u);
}

TEST_F(LoginPipelineTest, AnAnswerBeforeTheTimeoutCancelsTheTimer) {
  ScriptedStep push("second_factor", Phase::kCheck, 60s);
  ScriptedStep backend("backend_login", Phase::kConnect);
  auto p = Make({&push, &backend});
  p->Start();
  push.Answer(Verdict::Continue());
  EXPECT_FALSE(host_.timer.has_value());
  EXPECT_EQ(backend.begun, 1);
  p->OnStepTimeout();  // a stale timer event changes nothing: the backend login has no timeout
  EXPECT_EQ(host_.decisions, 0);
  EXPECT_TRUE(backend.waiting());
}

TEST_F(LoginPipelineTest, ContinuationGoesToTheClientAndTheAnswerToTheStep) {
  ScriptedStep sasl("auth", Phase::kCheck);
  auto p = Make({&sasl});
  p->Start();
  sasl.AskClient("dGVzdA==");
  ASSERT_EQ(host_.continuations.size(), 1u);
  EXPECT_EQ(host_.continuations[0], "dGVzdA==");
  p->OnClientResponse(SecretString("cmVzcG9uc2U="));
  ASSERT_EQ(sasl.responses.size(), 1u);
  EXPECT_EQ(sasl.responses[0], "cmVzcG9uc2U=");
}

TEST_F(LoginPipelineTest, AResultPostedWithTheTicketReachesTheWaitingStep) {
  ScriptedStep hash("auth", Phase::kCheck);
  auto p = Make({&hash});
  p->Start();
  EXPECT_TRUE(registry_.Deliver(hash.ticket, Verdict::Accept()));
  EXPECT_EQ(host_.decisions, 1);
  EXPECT_EQ(host_.kind, VerdictKind::kAccept);
}

TEST_F(LoginPipelineTest, ALateResultForADestroyedLoginIsDropped) {
  ScriptedStep hash("auth", Phase::kCheck);
  auto p = Make({&hash});
  p->Start();
  Ticket late = hash.ticket;
  p.reset();  // the session went away while the hash ran on the pool
  // A new login reuses the slot: the old ticket must not reach it either.
  ScriptedStep other("auth", Phase::kCheck);
  RecordingHost other_host;
  std::vector<LoginStep*> other_steps{&other};
  LoginPipeline q(std::span<LoginStep* const>(other_steps), LoginAttempt{}, &other_host, &registry_);
  q.Start();
  EXPECT_EQ(other.ticket.slot, late.slot);
  EXPECT_FALSE(registry_.Deliver(late, Verdict::Accept()));
  EXPECT_EQ(host_.decisions, 0);
  EXPECT_EQ(other_host.decisions, 0);
  EXPECT_TRUE(other.waiting());
}

TEST_F(LoginPipelineTest, AResultForAnEarlierStepOfTheSameLoginIsDropped) {
  ScriptedStep first("auth", Phase::kCheck);
  ScriptedStep second("second_factor", Phase::kCheck);
  auto p = Make({&first, &second});
  p->Start();
  Ticket old = first.ticket;
  first.Answer(Verdict::Continue());
  ASSERT_TRUE(second.waiting());
  EXPECT_FALSE(registry_.Deliver(old, Verdict::Accept()));
  EXPECT_EQ(host_.decisions, 0);
  EXPECT_TRUE(second.waiting());
}

TEST(RejectReasonTest, NamesAreStable) {
  EXPECT_STREQ(RejectReasonName(RejectReason::kAuthFailed), "auth_failed");
  EXPECT_STREQ(RejectReasonName(RejectReason::kUnavailable), "unavailable");
  EXPECT_STREQ(RejectReasonName(RejectReason::kTimeout), "step_timeout");
}

}  // namespace
}  // namespace imapgate::login
