// AuthStep on a real event loop and hash pool: the file source's verdicts, the pool refusing at
// once, the auth cache answering without the pool, TOTP with replay, and a login cancelled while
// its hash runs (the late result finds nothing).
#include "auth/auth_step.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/time_source.h"
#include "login/ticket_registry.h"
#include "net/timer.h"

namespace imapgate::auth {
namespace {

constexpr char kBcrypt[] = "$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu";  // "password"
constexpr char kTotpSecret[] = "12345678901234567890";

// The Session's part: a real step timer (a decision reached inside Start() is reported from it).
class Host final : public login::PipelineHost {
 public:
  explicit Host(net::EventLoop* loop) : loop_(loop) {
    auto timer = net::Timer::Create(loop, [this] {
      if (pipeline) pipeline->OnStepTimeout();
    });
    EXPECT_TRUE(timer.ok());
    if (timer.ok()) timer_ = std::move(*timer);
  }
  void ArmStepTimer(std::chrono::milliseconds delay) override { timer_->Arm(delay); }
  void CancelStepTimer() override { timer_->Cancel(); }
  void DeleteLater(std::unique_ptr<login::StepRequest> r) override { retired.push_back(std::move(r)); }
  void SendContinuation(std::string_view) override {}
  void OnLoginDecided(const login::Verdict& v, std::string_view) override {
    ++decisions;
    kind = v.kind;
    reason = v.reason;
    loop_->Stop();
  }
  net::EventLoop* loop_;
  net::TimerPtr timer_;
  login::LoginPipeline* pipeline = nullptr;
  std::vector<std::unique_ptr<login::StepRequest>> retired;
  int decisions = 0;
  login::VerdictKind kind = login::VerdictKind::kContinue;
  login::RejectReason reason = login::RejectReason::kInternal;
};

class AuthStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(net::InitEventThreading().ok());  // the pool posts from its own thread
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
    AuthServicesOptions o;
    o.pool.threads = 1;
    o.pool.max_queued = 4;
    auto services = AuthServices::Create(o);
    ASSERT_TRUE(services.ok());
    services_ = *services;
    std::vector<UserRecord> users;
    UserRecord alice;
    alice.name = "alice@demo.test";
    alice.password = *ParsePasswordHash(kBcrypt);
    alice.shard = "shard-a";
    users.push_back(std::move(alice));
    UserRecord carol;
    carol.name = "carol@demo.test";
    carol.password = *ParsePasswordHash(kBcrypt);
    carol.totp_key = SecretString(kTotpSecret);
    users.push_back(std::move(carol));
    auto db = UserDatabase::Create(std::move(users), {});
    ASSERT_TRUE(db.ok());
    auto store = services_->Store("/users.yaml");
    store->Set(*db, "demo.test");
    auto plan = std::make_shared<GenerationAuth>();
    plan->services = services_;
    SourcePlan source;
    source.config.name = "users";
    source.config.type = config::AuthSourceConfig::Type::kFile;
    source.users = store;
    plan->sources.push_back(std::move(source));
    plan->listener_chains = {{0}};
    plan->default_domain = "demo.test";
    auto w = WorkerAuth::Create(loop_.get(), &RealTimeSource::Get(), &tickets_, nullptr, plan, &pool_, nullptr);
    ASSERT_TRUE(w.ok()) << w.status().message();
    worker_ = *w;
    step_ = worker_->StepFor(0);
    ASSERT_NE(step_, nullptr);
  }
  void TearDown() override {
    services_->Shutdown();
    pipelines_.clear();
    worker_.reset();
  }

  login::LoginAttempt Attempt(std::string user, std::string password) {
    login::LoginAttempt a;
    a.session_id = "t";
    a.user = std::move(user);
    a.password = SecretString(password);
    a.mechanism = "LOGIN";
    return a;
  }

  // Runs one login to its decision (or until `limit`), as the Session would.
  void Run(login::LoginAttempt attempt, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    host_ = std::make_unique<Host>(loop_.get());
    steps_[0] = step_;
    pipelines_.push_back(std::make_unique<login::LoginPipeline>(std::span<login::LoginStep* const>(steps_, 1),
                                                                 std::move(attempt), host_.get(), &tickets_));
    host_->pipeline = pipelines_.back().get();
    pipelines_.back()->Start();
    auto guard = net::Timer::Create(loop_.get(), [this] { loop_->Stop(); });
    ASSERT_TRUE(guard.ok());
    (*guard)->Arm(limit);
    if (host_->decisions == 0) loop_->Run();
  }

  std::string CurrentCode() {
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            RealTimeSource::Get().WallNow().time_since_epoch()).count();
    std::string code = std::to_string(Hotp(kTotpSecret, static_cast<uint64_t>(now / 30), 6));
    return std::string(6 - code.size(), '0') + code;
  }

  std::unique_ptr<net::EventLoop> loop_;
  login::TicketRegistry tickets_;
  login::BackendPool pool_;
  std::shared_ptr<AuthServices> services_;
  std::shared_ptr<WorkerAuth> worker_;
  login::LoginStep* step_ = nullptr;
  login::LoginStep* steps_[1] = {nullptr};
  std::unique_ptr<Host> host_;
  std::vector<std::unique_ptr<login::LoginPipeline>> pipelines_;
};

TEST_F(AuthStepTest, APoolThatIsNotRunningRefusesAtOnceAsUnavailable) {
  Run(Attempt("alice", "password"));  // StartPool() was never called
  ASSERT_EQ(host_->decisions, 1);
  EXPECT_EQ(host_->kind, login::VerdictKind::kReject);
  EXPECT_EQ(host_->reason, login::RejectReason::kUnavailable);
}

TEST_F(AuthStepTest, GoodPasswordAcceptsWithTheUsersShard) {
  ASSERT_TRUE(services_->StartPool().ok());
  Run(Attempt("Alice", "password"));  // normalized like the router: alice@demo.test
  ASSERT_EQ(host_->decisions, 1);
  EXPECT_EQ(host_->kind, login::VerdictKind::kAccept);
  login::LoginAttempt& a = pipelines_.back()->attempt();
  EXPECT_TRUE(a.authenticated);
  ASSERT_TRUE(a.route.has_value());
  EXPECT_EQ(a.route->shard, "shard-a");
  EXPECT_EQ(a.route->source, "auth");
}

TEST_F(AuthStepTest, WrongPasswordAndUnknownUserAreTheSameFailure) {
  ASSERT_TRUE(services_->StartPool().ok());
  Run(Attempt("alice", "wrong"));
  EXPECT_EQ(host_->kind, login::VerdictKind::kReject);
  EXPECT_EQ(host_->reason, login::RejectReason::kAuthFailed);
  Run(Attempt("nobody", "password"));
  EXPECT_EQ(host_->kind, login::VerdictKind::kReject);
  EXPECT_EQ(host_->reason, login::RejectReason::kAuthFailed);
}

TEST_F(AuthStepTest, TheAuthCacheAnswersARepeatWithoutThePool) {
  ASSERT_TRUE(services_->StartPool().ok());
  Run(Attempt("alice", "password"));
  ASSERT_EQ(host_->kind, login::VerdictKind::kAccept);
  services_->Shutdown();  // from now on the pool refuses everything
  Run(Attempt("alice", "password"));
  ASSERT_EQ(host_->decisions, 1);
  EXPECT_EQ(host_->kind, login::VerdictKind::kAccept);
  Run(Attempt("alice", "other"));  // not cached: needs the pool, which refuses
  EXPECT_EQ(host_->reason, login::RejectReason::kUnavailable);
}

TEST_F(AuthStepTest, TotpThroughTheStepStripsTheCodeAndRefusesItsReplay) {
  ASSERT_TRUE(services_->StartPool().ok());
  const std::string code = CurrentCode();
  Run(Attempt("carol", "password" + code));
  ASSERT_EQ(host_->kind, login::VerdictKind::kAccept);
  EXPECT_EQ(pipelines_.back()->attempt().password.view(), "password");  // the backend's password
  Run(Attempt("carol", "password" + code));
  EXPECT_EQ(host_->kind, login::VerdictKind::kReject);
  EXPECT_EQ(host_->reason, login::RejectReason::kAuthFailed);
}

TEST_F(AuthStepTest, ALoginCancelledWhileHashingNeverHearsTheResult) {
  ASSERT_TRUE(services_->StartPool().ok());
  host_ = std::make_unique<Host>(loop_.get());
  steps_[0] = step_;
  pipelines_.push_back(std::make_unique<login::LoginPipeline>(std::span<login::LoginStep* const>(steps_, 1),
                                                               Attempt("alice", "password"), host_.get(), &tickets_));
  pipelines_.back()->Start();  // the hash is queued on the pool...
  pipelines_.clear();          // ...and the session goes away: its ticket is released
  EXPECT_EQ(tickets_.live(), 0u);
  // The hash finishes on the pool and posts to the loop: it must find nothing (ASan watches).
  auto stop = net::Timer::Create(loop_.get(), [this] { loop_->Stop(); });
  ASSERT_TRUE(stop.ok());
  (*stop)->Arm(std::chrono::milliseconds(500));
  loop_->Run();
  EXPECT_EQ(host_->decisions, 0);
}

}  // namespace
}  // namespace imapgate::auth
