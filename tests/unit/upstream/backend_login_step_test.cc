// Tests for login::BackendLoginStep over real sockets on 127.0.0.1: routing to the user's shard,
// failover to the next backend of that shard (never to another shard), the passive health marks,
// and the master-user backend login, which is used only for a user an earlier step authenticated.
// The backends are ScriptedBackend fixtures (real Dovecots are in tests/integration/test_shards).
// Lives with the upstream tests, which have the scripted backend.

#include "login/backend_login_step.h"

#include <event2/event.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "../login/fake_steps.h"
#include "common/time_source.h"
#include "net/event_loop.h"
#include "net/socket.h"
#include "scripted_backend.h"
#include "stats/metrics.h"

namespace imapgate::login {
namespace {

using namespace std::chrono_literals;
using upstream::ScriptedBackend;
using Conn = ScriptedBackend::Conn;

// A listening socket nobody serves: connects to it are accepted by the kernel and never greeted;
// Pending() tells whether anyone connected.
struct SilentListener {
  SilentListener() {
    auto any = net::ResolveAddress("127.0.0.1", 0);
    auto fd = net::ListenOn(*any, /*reuse_port=*/false);
    EXPECT_TRUE(fd.ok());
    if (fd.ok()) this->fd = std::move(*fd);
  }
  uint16_t port() const { return net::LocalAddress(fd.get()).Port(); }
  bool Pending() const {
    int c = accept4(fd.get(), nullptr, nullptr, SOCK_NONBLOCK);
    if (c >= 0) close(c);
    return c >= 0;
  }
  net::UniqueFd fd;
};

// A port that refuses connects (bound, then closed).
uint16_t RefusingPort() {
  auto any = net::ResolveAddress("127.0.0.1", 0);
  auto fd = net::ListenOn(*any, /*reuse_port=*/false);
  return net::LocalAddress(fd->get()).Port();
}

class BackendLoginStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
    pool_.health = std::make_shared<health::BackendHealthTable>(health::HealthPolicy{}, [](const auto&) {});
    // Backend label index 0 is "unused", so a count that lands on index 0 shows.
    auto metrics = stats::Metrics::Create({}, "unused", "0");
    ASSERT_TRUE(metrics.ok());
    metrics_ = std::move(*metrics);
    pool_.metrics = metrics_.get();
  }

  // The value of one sample (name and labels as written) in a fresh scrape; -1 when absent.
  double Metric(const std::string& series) {
    std::istringstream in(metrics_->Serialize());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(series + " ", 0) == 0) return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
    ADD_FAILURE() << "no series " << series;
    return -1;
  }
  double Errors(const std::string& backend) {
    return Metric("imapgate_backend_errors_total{backend=\"" + backend + "\"}");
  }
  double Connects(const std::string& backend) {
    return Metric("imapgate_backend_connect_duration_seconds_count{backend=\"" + backend + "\"}");
  }
  double Logins(const std::string& backend) {
    return Metric("imapgate_backend_login_duration_seconds_count{backend=\"" + backend + "\"}");
  }

  // Adds shard `name` with backends at `ports` (names name-1, name-2, ...).
  void AddShard(const std::string& name, std::vector<uint16_t> ports) {
    PoolShard shard;
    shard.name = name;
    for (size_t i = 0; i < ports.size(); ++i) {
      PoolBackend b;
      b.name = name + "-" + std::to_string(i + 1);
      b.shard = pool_.shards.size();
      b.target.address = *net::ResolveAddress("127.0.0.1", ports[i]);
      b.target.label = b.name;
      b.target.connect_timeout = 2s;
      b.target.login_timeout = 2s;
      b.health = *pool_.health->Add(b.name);
      b.metrics_index = *metrics_->BackendIndex(b.name);
      shard.backends.push_back(pool_.backends.size());
      shard.health_order.push_back(b.health);
      pool_.backends.push_back(std::move(b));
    }
    pool_.shards.push_back(std::move(shard));
  }

  // Builds the router: every user goes to the shard `overrides` names.
  void BuildRouter(std::unordered_map<std::string, std::string> overrides) {
    route::RouterSpec spec;
    for (const PoolShard& s : pool_.shards) spec.shards.push_back(route::ShardSpec{s.name, 1});
    spec.overrides = std::move(overrides);
    auto router = route::Router::Create(spec);
    ASSERT_TRUE(router.ok()) << router.status().message();
    pool_.router = *router;
  }

  // Runs the pipeline (`first` steps, then the backend login) for alice/secret until decided.
  void Login(std::vector<LoginStep*> first = {}) {
    step_ = std::make_unique<BackendLoginStep>(loop_.get(), &RealTimeSource::Get(), &pool_, scratch_.data(),
                                               scratch_.size());
    steps_ = std::move(first);
    steps_.push_back(step_.get());
    LoginAttempt attempt;
    attempt.session_id = "t-1";
    attempt.user = "alice@demo.test";
    attempt.password = SecretString("secret");
    pipeline_ = std::make_unique<LoginPipeline>(steps_, std::move(attempt), &host_, &tickets_);
    pipeline_->Start();
    const auto deadline = std::chrono::steady_clock::now() + 8s;
    while (host_.decisions == 0 && std::chrono::steady_clock::now() < deadline) {
      // A decision made inside Start() is delivered by a step timer of 0 (as the Session's).
      if (host_.timer && host_.timer->count() == 0) host_.FireTimer(*pipeline_);
      if (host_.decisions > 0) break;
      event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
      if (host_.decisions == 0) std::this_thread::sleep_for(200us);
    }
    ASSERT_EQ(host_.decisions, 1) << "no decision";
  }

  // Closes the logged-in connection (a scripted backend waits for the close before it ends).
  void CloseConnection() {
    if (pipeline_) pipeline_->attempt().backend.reset();
  }

  // A backend that greets, checks the LOGIN it gets and accepts it.
  static void AcceptLogin(ScriptedBackend& backend, std::string expected_login) {
    backend.Run([expected_login](Conn& c) {
      c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
      EXPECT_EQ(c.ReadLines(3), expected_login);
      c.Send("A2 OK [CAPABILITY IMAP4rev1 IDLE] ok\r\n");
      c.ReadUntilClose();
    });
  }

  std::unique_ptr<net::EventLoop> loop_;
  stats::MetricsPtr metrics_;
  BackendPool pool_;
  std::vector<char> scratch_ = std::vector<char>(65536);
  std::unique_ptr<BackendLoginStep> step_;
  std::vector<LoginStep*> steps_;
  RecordingHost host_;
  TicketRegistry tickets_;
  std::unique_ptr<LoginPipeline> pipeline_;
};

const char kClientOwnLogin[] = "A2 LOGIN {15+}\r\nalice@demo.test {6+}\r\nsecret\r\n";

TEST_F(BackendLoginStepTest, ARefusingPrimaryFailsOverToTheReplicaInTheSameLogin) {
  ScriptedBackend replica;
  AcceptLogin(replica, kClientOwnLogin);
  AddShard("shard-a", {RefusingPort(), replica.port()});
  BuildRouter({{"alice@demo.test", "shard-a"}});
  Login();
  EXPECT_EQ(host_.kind, VerdictKind::kAccept) << host_.detail;
  const LoginAttempt& a = pipeline_->attempt();
  ASSERT_TRUE(a.route.has_value());
  EXPECT_EQ(a.route->shard, "shard-a");
  EXPECT_EQ(a.route->backend, "shard-a-2");
  EXPECT_EQ(a.route->source, "override");
  EXPECT_EQ(a.failovers, 1);
  ASSERT_TRUE(a.backend.has_value());
  EXPECT_TRUE(a.backend->connection.open());
  // The refusing primary got a passive failure mark; the replica's success changes nothing.
  health::BackendStatus primary = pool_.health->Snapshot(0);
  EXPECT_NE(primary.last_failure.find("connect"), std::string::npos) << primary.last_failure;
  EXPECT_TRUE(pool_.health->IsUp(1));
  CloseConnection();
}

TEST_F(BackendLoginStepTest, MetricsCountTheErrorOfTheBackendThatFailedAndTheLatencyOfTheOneThatLoggedIn) {
  ScriptedBackend replica;
  AcceptLogin(replica, kClientOwnLogin);
  AddShard("shard-a", {RefusingPort(), replica.port()});
  BuildRouter({{"alice@demo.test", "shard-a"}});
  Login();
  ASSERT_EQ(host_.kind, VerdictKind::kAccept) << host_.detail;
  EXPECT_EQ(Errors("shard-a-1"), 1);  // the refusing primary, by its own label
  EXPECT_EQ(Errors("shard-a-2"), 0);
  EXPECT_EQ(Errors("unused"), 0);  // not index 0
  EXPECT_EQ(Connects("shard-a-1"), 0);  // a refused connect has no connect latency
  EXPECT_EQ(Connects("shard-a-2"), 1);
  EXPECT_EQ(Logins("shard-a-1"), 0);
  EXPECT_EQ(Logins("shard-a-2"), 1);
  const upstream::BackendLoginResult& r = *pipeline_->attempt().backend;
  EXPECT_GE(r.connect_seconds, 0);
  EXPECT_GE(r.login_seconds, r.connect_seconds);  // the login clock starts with the connect
  EXPECT_LT(r.login_seconds, 2.0);
  CloseConnection();
}

TEST_F(BackendLoginStepTest, MetricsCountEveryFailedBackendOfAShardWithNoneLeft) {
  AddShard("shard-a", {RefusingPort(), RefusingPort()});
  BuildRouter({{"alice@demo.test", "shard-a"}});
  Login();
  EXPECT_EQ(host_.reason, RejectReason::kUnavailable);
  EXPECT_EQ(Errors("shard-a-1"), 1);
  EXPECT_EQ(Errors("shard-a-2"), 1);
  EXPECT_EQ(Errors("unused"), 0);
  EXPECT_EQ(Logins("shard-a-1") + Logins("shard-a-2"), 0);
}

TEST_F(BackendLoginStepTest, ShardBackendCountsSayConfiguredAndUsableBackendsPerShard) {
  AddShard("shard-a", {RefusingPort(), RefusingPort(), RefusingPort()});
  AddShard("shard-b", {RefusingPort()});
  AddShard("shard-c", {RefusingPort()});
  pool_.shards[0].metrics_index = 4;
  pool_.shards[1].metrics_index = 7;
  // shard-c has no metrics index: left out.
  for (int i = 0; i < 5; ++i) pool_.health->RecordPassive(pool_.shards[0].health_order[0], false, "down");
  pool_.health->SetDraining(pool_.shards[0].health_order[1], true);  // up, but takes no login
  std::vector<stats::Metrics::ShardBackendCount> counts = ShardBackendCounts(pool_);
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0].shard, 4);
  EXPECT_EQ(counts[0].configured, 3);
  EXPECT_EQ(counts[0].up, 1);
  EXPECT_EQ(counts[1].shard, 7);
  EXPECT_EQ(counts[1].configured, 1);
  EXPECT_EQ(counts[1].up, 1);
  pool_.health.reset();  // without a health table every backend counts as usable
  counts = ShardBackendCounts(pool_);
  EXPECT_EQ(counts[0].up, 3);
}

TEST_F(BackendLoginStepTest, APrimaryMarkedDownIsSkippedWithoutATry) {
  SilentListener primary;  // would hang the login until its timeout if it were tried
  ScriptedBackend replica;
  AcceptLogin(replica, kClientOwnLogin);
  AddShard("shard-a", {primary.port(), replica.port()});
  BuildRouter({{"alice@demo.test", "shard-a"}});
  for (int i = 0; i < 5; ++i) pool_.health->RecordPassive(0, false, "down for the test");
  ASSERT_FALSE(pool_.health->IsUp(0));
  Login();
  EXPECT_EQ(host_.kind, VerdictKind::kAccept) << host_.detail;
  EXPECT_EQ(pipeline_->attempt().route->backend, "shard-a-2");
  EXPECT_EQ(pipeline_->attempt().failovers, 0);
  EXPECT_FALSE(primary.Pending()) << "a backend marked down was connected to";
  CloseConnection();
}

TEST_F(BackendLoginStepTest, ADrainingPrimaryTakesNoNewLogin) {
  SilentListener primary;
  ScriptedBackend replica;
  AcceptLogin(replica, kClientOwnLogin);
  AddShard("shard-a", {primary.port(), replica.port()});
  BuildRouter({{"alice@demo.test", "shard-a"}});
  pool_.health->SetDraining(0, true);
  Login();
  EXPECT_EQ(host_.kind, VerdictKind::kAccept) << host_.detail;
  EXPECT_EQ(pipeline_->attempt().route->backend, "shard-a-2");
  EXPECT_FALSE(primary.Pending()) << "a draining backend was connected to";
  CloseConnection();
}

TEST_F(BackendLoginStepTest, AShardWithNoBackendLeftIsUnavailableAndAnotherShardIsNeverTried) {
  SilentListener other_shard;  // shard-b's backend: alice's mail is not there
  AddShard("shard-a", {RefusingPort(), RefusingPort()});
  AddShard("shard-b", {other_shard.port()});
  BuildRouter({{"alice@demo.test", "shard-a"}});
  Login();
  EXPECT_EQ(host_.kind, VerdictKind::kReject);
  EXPECT_EQ(host_.reason, RejectReason::kUnavailable);
  EXPECT_NE(host_.detail.find("no usable backend in shard shard-a"), std::string::npos) << host_.detail;
  EXPECT_EQ(pipeline_->attempt().failovers, 2);
  EXPECT_FALSE(other_shard.Pending()) << "the login went to another shard's backend";
}

TEST_F(BackendLoginStepTest, AWrongPasswordIsANoAndNoReasonToTryTheReplica) {
  ScriptedBackend primary;
  primary.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
    c.ReadLines(3);
    c.Send("A2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    c.ReadUntilClose();
  });
  SilentListener replica;
  AddShard("shard-a", {primary.port(), replica.port()});
  BuildRouter({{"alice@demo.test", "shard-a"}});
  Login();
  EXPECT_EQ(host_.kind, VerdictKind::kReject);
  EXPECT_EQ(host_.reason, RejectReason::kAuthFailed);
  EXPECT_EQ(pipeline_->attempt().failovers, 0);
  EXPECT_FALSE(replica.Pending());
  EXPECT_TRUE(pool_.health->IsUp(0));  // it answered: healthy
  // A NO is no backend error, and no login latency; the connect itself was made and measured.
  EXPECT_EQ(Errors("shard-a-1"), 0);
  EXPECT_EQ(Connects("shard-a-1"), 1);
  EXPECT_EQ(Logins("shard-a-1"), 0);
  pipeline_.reset();                   // closes the refused connection: the backend ends
  host_.retired.clear();
}

TEST_F(BackendLoginStepTest, MasterUserLoginIsRefusedUnlessAStepAuthenticatedTheUser) {
  SilentListener backend;
  AddShard("shard-a", {backend.port()});
  MasterLogin m;
  m.master_user = "proxy";
  m.master_password = std::make_shared<const SecretString>("master-secret");
  pool_.shards[0].master = m;
  BuildRouter({{"alice@demo.test", "shard-a"}});
  Login();  // no authenticating step: the client's word alone
  EXPECT_EQ(host_.kind, VerdictKind::kReject);
  EXPECT_EQ(host_.reason, RejectReason::kInternal);
  EXPECT_FALSE(backend.Pending()) << "a master-user login was attempted for an unauthenticated user";
}

TEST_F(BackendLoginStepTest, MasterUserLogsInForAnAuthenticatedUserWithoutTheUsersPassword) {
  ScriptedBackend backend;
  AcceptLogin(backend, "A2 LOGIN {21+}\r\nalice@demo.test*proxy {13+}\r\nmaster-secret\r\n");
  AddShard("shard-a", {backend.port()});
  MasterLogin m;
  m.master_user = "proxy";
  m.master_password = std::make_shared<const SecretString>("master-secret");
  pool_.shards[0].master = m;
  BuildRouter({{"alice@demo.test", "shard-a"}});
  ScriptedStep auth("auth", LoginStep::Phase::kCheck);
  auth.immediate = Verdict::Accept();  // an auth source verified the password
  Login({&auth});
  EXPECT_EQ(host_.kind, VerdictKind::kAccept) << host_.detail;
  EXPECT_TRUE(pipeline_->attempt().backend.has_value());
  CloseConnection();
}

}  // namespace
}  // namespace imapgate::login
