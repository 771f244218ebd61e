// Tests for upstream::HealthChecker against backends on 127.0.0.1: the scripted backend
// (scripted_backend.h, a fixture for exact bytes and faults), a socket bound but not listening
// (connect refused) that starts listening later, and a small greeting server for repeated checks.
// The loop runs until a condition holds, with a deadline; intervals are short via the options.
// Also the pure helpers: failure classification, jitter bounds, option bounds.

#include "upstream/health_checker.h"

#include <event2/event.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/time_source.h"
#include "net/event_loop.h"
#include "scripted_backend.h"
#include "test_certs.h"
#include "tls/tls_context.h"

namespace imapgate::upstream {
namespace {

using namespace std::chrono_literals;
using Conn = ScriptedBackend::Conn;
using health::CheckOutcome;
using health::StateChange;

// A TCP socket bound to 127.0.0.1:0 and not listening: connects to it are refused. Listen()
// makes the same port accept, as a backend that comes back.
class ClosedPort {
 public:
  ClosedPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~ClosedPort() {
    stop_ = true;
    if (server_.joinable()) server_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  int served() const { return served_.load(); }

  // Starts listening and serves every connection as a healthy backend, one after the other.
  void ListenAndServe() {
    ASSERT_EQ(listen(fd_, 16), 0);
    server_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 20) != 1) continue;
        int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) continue;
        timeval tv{2, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        Conn conn(c);
        conn.Send("* OK [CAPABILITY IMAP4rev1] ready\r\n");
        if (conn.ReadLine() != "H1 CAPABILITY\r\n") continue;
        conn.Send("* CAPABILITY IMAP4rev1\r\nH1 OK done\r\n");
        if (conn.ReadLine() != "H2 LOGOUT\r\n") continue;
        conn.Send("* BYE bye\r\nH2 OK done\r\n");
        conn.ReadUntilClose();
        ++served_;
      }
    });
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread server_;
};

struct Result {
  CheckOutcome outcome;
  bool up_after;  // the table's state right after the result was recorded
};

class HealthCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
    options_.interval = 60s;  // one check per test unless a test shortens it
    options_.timeout = 3s;
    options_.spread_first_check = false;
    options_.seed = 42;
  }
  void TearDown() override {
    checker_.reset();
    backend_.Join();
  }

  void MakeTable(int rise, int fall) {
    health::HealthPolicy p;
    p.rise = rise;
    p.fall = fall;
    table_ = std::make_unique<health::BackendHealthTable>(p, [this](const StateChange& c) {
      changes_.push_back(c.kind);
      reasons_.emplace_back(c.reason);
    });
    index_ = *table_->Add("b1");
  }

  static BackendTarget TargetFor(uint16_t port) {
    BackendTarget t;
    t.address = *net::ResolveAddress("127.0.0.1", port);
    t.label = "127.0.0.1:" + std::to_string(port);
    t.server_name = "localhost";
    return t;
  }

  void UseTls(BackendSecurityMode mode) {
    const auto& certs = testing::GetTestCerts();
    ASSERT_TRUE(certs.ok) << certs.error;
    auto client = tls::TlsClientContext::Create(certs.ca_cert, /*verify=*/true);
    ASSERT_TRUE(client.ok()) << client.status().message();
    client_ctx_ = std::move(*client);
    auto server = tls::TlsServerContext::Create(certs.server_cert, certs.server_key);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ctx_ = std::move(*server);
    target_.security = mode;
    target_.tls = client_ctx_.get();
  }

  void StartChecker(uint16_t port) {
    if (!table_) MakeTable(2, 1);
    BackendTarget t = TargetFor(port);
    t.security = target_.security;
    t.tls = target_.tls;
    t.max_line_bytes = target_.max_line_bytes;
    if (!target_.server_name.empty()) t.server_name = target_.server_name;
    auto c = HealthChecker::Start(loop_.get(), &RealTimeSource::Get(), table_.get(), {{t, index_}},
                                  options_, [this](size_t i, CheckOutcome o) {
                                    EXPECT_EQ(i, index_);
                                    results_.push_back({o, table_->IsUp(i)});
                                  });
    ASSERT_TRUE(c.ok()) << c.status().message();
    checker_ = std::move(*c);
  }

  // Turns the loop until pred() holds (at most 5 s).
  bool RunUntil(const std::function<bool()>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
      if (!pred()) std::this_thread::sleep_for(200us);
    }
    return pred();
  }
  bool RunUntilResults(size_t n) {
    return RunUntil([&] { return results_.size() >= n; });
  }

  std::unique_ptr<net::EventLoop> loop_;
  ScriptedBackend backend_;
  BackendTarget target_;
  std::shared_ptr<tls::TlsClientContext> client_ctx_;
  std::shared_ptr<tls::TlsServerContext> server_ctx_;
  HealthCheckOptions options_;
  std::unique_ptr<health::BackendHealthTable> table_;
  size_t index_ = 0;
  std::vector<StateChange::Kind> changes_;
  std::vector<std::string> reasons_;
  std::vector<Result> results_;
  HealthCheckerPtr checker_;
};

TEST_F(HealthCheckerTest, HealthyBackendGetsCapabilityThenLogout) {
  std::atomic<bool> script_done{false};
  backend_.Run([&](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 ID] hi\r\n");
    EXPECT_EQ(c.ReadLine(), "H1 CAPABILITY\r\n");
    c.Send("* CAPABILITY IMAP4rev1 ID\r\nH1 OK done\r\n");
    EXPECT_EQ(c.ReadLine(), "H2 LOGOUT\r\n");
    c.Send("* BYE Logging out\r\nH2 OK done\r\n");
    EXPECT_EQ(c.ReadUntilClose(), "");  // closed by the checker, nothing else sent
    script_done = true;
  });
  options_.timeout = 30s;  // so the close below can only come from the LOGOUT answer
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntilResults(1));
  EXPECT_EQ(results_[0].outcome, CheckOutcome::kOk);
  ASSERT_TRUE(RunUntil([&] { return script_done.load(); }))
      << "the checker did not close after LOGOUT";
  health::BackendStatus s = table_->Snapshot(index_);
  EXPECT_TRUE(s.checked);
  EXPECT_EQ(s.last_check, CheckOutcome::kOk);
  EXPECT_TRUE(s.up);
  EXPECT_EQ(checker_->checks_finished(), 1u);
  EXPECT_TRUE(changes_.empty());
}

TEST_F(HealthCheckerTest, RefusedConnectIsConnectFailedAndLoggedOnce) {
  ClosedPort closed;
  options_.interval = 10ms;
  options_.jitter = 0;
  MakeTable(2, 2);
  StartChecker(closed.port());
  ASSERT_TRUE(RunUntilResults(5));
  for (const Result& r : results_) EXPECT_EQ(r.outcome, CheckOutcome::kConnectFailed);
  EXPECT_TRUE(results_[0].up_after);  // fall 2: the first failure is not enough
  EXPECT_FALSE(results_[1].up_after);
  ASSERT_EQ(changes_.size(), 1u) << "one change, however many failed checks";
  EXPECT_EQ(changes_[0], StateChange::Kind::kDown);
  EXPECT_NE(reasons_[0].find("refused"), std::string::npos) << reasons_[0];
  EXPECT_NE(table_->Snapshot(index_).last_check_detail.find("refused"), std::string::npos);
}

TEST_F(HealthCheckerTest, SilentBackendTimesOut) {
  options_.timeout = 200ms;
  backend_.Run([](Conn& c) { EXPECT_EQ(c.ReadUntilClose(), ""); });
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntilResults(1));
  EXPECT_EQ(results_[0].outcome, CheckOutcome::kTimeout);
  EXPECT_FALSE(table_->IsUp(index_));  // fall 1
  EXPECT_NE(reasons_.at(0).find("timeout"), std::string::npos) << reasons_[0];
}

TEST_F(HealthCheckerTest, BackendSilentAfterCapabilityTimesOut) {
  options_.timeout = 200ms;
  backend_.Run([](Conn& c) {
    c.Send("* OK hi\r\n");
    EXPECT_EQ(c.ReadLine(), "H1 CAPABILITY\r\n");
    c.ReadUntilClose();  // never answers
  });
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntilResults(1));
  EXPECT_EQ(results_[0].outcome, CheckOutcome::kTimeout);
}

TEST_F(HealthCheckerTest, BadGreetingIsBadGreeting) {
  backend_.Run([](Conn& c) {
    c.Send("HTTP/1.1 400 Bad Request\r\n");
    c.ReadUntilClose();
  });
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntilResults(1));
  EXPECT_EQ(results_[0].outcome, CheckOutcome::kBadGreeting);
  EXPECT_NE(table_->Snapshot(index_).last_check_detail.find("greeting"), std::string::npos);
}

TEST_F(HealthCheckerTest, RefusedCapabilityIsAProtocolError) {
  backend_.Run([](Conn& c) {
    c.Send("* OK hi\r\n");
    EXPECT_EQ(c.ReadLine(), "H1 CAPABILITY\r\n");
    c.Send("H1 NO [UNAVAILABLE] overloaded\r\n");
    c.ReadUntilClose();
  });
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntilResults(1));
  EXPECT_EQ(results_[0].outcome, CheckOutcome::kProtocolError);
}

TEST_F(HealthCheckerTest, OverlongLineIsAProtocolError) {
  backend_.Run([](Conn& c) {
    c.Send("* OK hi\r\n");
    EXPECT_EQ(c.ReadLine(), "H1 CAPABILITY\r\n");
    c.Send("* CAPABILITY " + std::string(2000, 'X'));  // no end of line, over the bound
    c.ReadUntilClose();
  });
  target_.max_line_bytes = 1024;
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntilResults(1));
  EXPECT_EQ(results_[0].outcome, CheckOutcome::kProtocolError);
  EXPECT_NE(table_->Snapshot(index_).last_check_detail.find("too long"), std::string::npos);
}

TEST_F(HealthCheckerTest, BackendComesBackAfterItsRiseCount) {
  ClosedPort port;
  options_.interval = 20ms;
  options_.jitter = 0;
  MakeTable(/*rise=*/3, /*fall=*/1);
  StartChecker(port.port());
  ASSERT_TRUE(RunUntil([&] { return !table_->IsUp(index_); }));
  port.ListenAndServe();
  ASSERT_TRUE(RunUntil([&] { return table_->IsUp(index_); }));
  // Every ok before the third in a row leaves it down; the third brings it up.
  size_t first_ok = 0;
  while (first_ok < results_.size() && results_[first_ok].outcome != CheckOutcome::kOk) ++first_ok;
  ASSERT_EQ(results_.size(), first_ok + 3);
  for (size_t i = 0; i < first_ok; ++i)
    EXPECT_EQ(results_[i].outcome, CheckOutcome::kConnectFailed);
  EXPECT_FALSE(results_[first_ok].up_after);
  EXPECT_FALSE(results_[first_ok + 1].up_after);
  EXPECT_TRUE(results_[first_ok + 2].up_after);
  EXPECT_EQ(changes_,
            (std::vector<StateChange::Kind>{StateChange::Kind::kDown, StateChange::Kind::kUp}));
  EXPECT_GE(port.served() + 1, 3);  // the third may still be saying goodbye
  checker_.reset();  // closes the last goodbye before the server thread is joined
}

TEST_F(HealthCheckerTest, StartTlsLinkIsCheckedOverTls) {
  UseTls(BackendSecurityMode::kStartTls);
  std::atomic<bool> script_done{false};
  backend_.Run([&](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n");
    EXPECT_EQ(c.ReadLine(), "A0 STARTTLS\r\n");
    c.Send("A0 OK Begin TLS\r\n");
    ASSERT_TRUE(c.StartTls(server_ctx_->get()));
    EXPECT_EQ(c.ReadLine(), "A1 CAPABILITY\r\n");
    c.Send("* CAPABILITY IMAP4rev1\r\nA1 OK done\r\n");
    EXPECT_EQ(c.ReadLine(), "H2 LOGOUT\r\n");  // the CAPABILITY over TLS was the check
    c.Send("* BYE bye\r\nH2 OK done\r\n");
    c.ReadUntilClose();
    script_done = true;
  });
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntilResults(1));
  EXPECT_EQ(results_[0].outcome, CheckOutcome::kOk);
  ASSERT_TRUE(RunUntil([&] { return script_done.load(); }));
}

TEST_F(HealthCheckerTest, ImplicitTlsLinkIsCheckedOverTls) {
  UseTls(BackendSecurityMode::kTls);
  backend_.Run([&](Conn& c) {
    ASSERT_TRUE(c.StartTls(server_ctx_->get()));
    c.Send("* OK [CAPABILITY IMAP4rev1] hi\r\n");
    EXPECT_EQ(c.ReadLine(), "H1 CAPABILITY\r\n");
    c.Send("* CAPABILITY IMAP4rev1\r\nH1 OK done\r\n");
    EXPECT_EQ(c.ReadLine(), "H2 LOGOUT\r\n");
    c.Send("H2 OK done\r\n");
    c.ReadUntilClose();
  });
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntilResults(1));
  EXPECT_EQ(results_[0].outcome, CheckOutcome::kOk);
}

TEST_F(HealthCheckerTest, UntrustedTlsNameIsTlsFailed) {
  UseTls(BackendSecurityMode::kTls);
  target_.server_name = "imap.example.com";  // the certificate is for localhost
  backend_.Run([&](Conn& c) {
    EXPECT_FALSE(c.StartTls(server_ctx_->get()));
    c.ReadUntilClose();
  });
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntilResults(1));
  EXPECT_EQ(results_[0].outcome, CheckOutcome::kTlsFailed);
}

TEST_F(HealthCheckerTest, DestroyingTheCheckerCancelsTheCheckInFlight) {
  std::atomic<bool> accepted{false};
  std::atomic<bool> saw_close{false};
  backend_.Run([&](Conn& c) {
    accepted = true;
    // The checker waits for a greeting that never comes; closing is the only thing it can send.
    saw_close = !c.Quiet(4000ms) && c.ReadUntilClose().empty();
  });
  StartChecker(backend_.port());
  ASSERT_TRUE(RunUntil([&] { return accepted.load(); }));
  checker_.reset();
  backend_.Join();
  EXPECT_TRUE(saw_close) << "the check's socket was not closed by the destructor";
  for (int i = 0; i < 20; ++i)
    event_base_loop(loop_->base(), EVLOOP_NONBLOCK);  // nothing left to fire
  EXPECT_TRUE(results_.empty());
  EXPECT_FALSE(table_->Snapshot(index_).checked);
}

TEST_F(HealthCheckerTest, EachBackendIsCheckedOnItsOwn) {
  ClosedPort down;
  backend_.Run([](Conn& c) {
    c.Send("* OK hi\r\n");
    EXPECT_EQ(c.ReadLine(), "H1 CAPABILITY\r\n");
    c.Send("H1 OK done\r\n");
    c.ReadUntilClose();
  });
  MakeTable(1, 1);
  const size_t other = *table_->Add("b2");
  std::vector<std::pair<size_t, CheckOutcome>> seen;
  auto c =
      HealthChecker::Start(loop_.get(), &RealTimeSource::Get(), table_.get(),
                           {{TargetFor(backend_.port()), index_}, {TargetFor(down.port()), other}},
                           options_, [&](size_t i, CheckOutcome o) { seen.emplace_back(i, o); });
  ASSERT_TRUE(c.ok());
  checker_ = std::move(*c);
  ASSERT_TRUE(RunUntil([&] { return seen.size() >= 2; }));
  EXPECT_TRUE(table_->IsUp(index_));
  EXPECT_FALSE(table_->IsUp(other));
  for (const auto& [i, o] : seen)
    EXPECT_EQ(o, i == other ? CheckOutcome::kConnectFailed : CheckOutcome::kOk);
}

TEST(HealthCheckerStartTest, RefusesBadOptionsAndMissingParts) {
  auto loop = net::EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  health::BackendHealthTable table(health::HealthPolicy{}, nullptr);
  HealthCheckOptions o;
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_EQ(o.interval, 5s);  // the documented default
  o.interval = 0ms;
  EXPECT_FALSE(HealthChecker::Start(loop->get(), &RealTimeSource::Get(), &table, {}, o).ok());
  o = HealthCheckOptions();
  o.timeout = -1ms;
  EXPECT_FALSE(o.Validate().ok());
  o = HealthCheckOptions();
  o.jitter = 0.9;
  EXPECT_FALSE(o.Validate().ok());
  o.jitter = 0.5;
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_FALSE(HealthChecker::Start(loop->get(), &RealTimeSource::Get(), nullptr, {}, o).ok());
  EXPECT_TRUE(HealthChecker::Start(loop->get(), &RealTimeSource::Get(), &table, {}, o).ok());
  BackendTarget t;
  t.label = "b1";
  EXPECT_FALSE(HealthChecker::Start(loop->get(), &RealTimeSource::Get(), &table, {{t, 0}}, o).ok())
      << "index 0 is not in the table yet";
  ASSERT_TRUE(table.Add("b1").ok());
  EXPECT_TRUE(HealthChecker::Start(loop->get(), &RealTimeSource::Get(), &table, {{t, 0}}, o).ok());
  t.security = BackendSecurityMode::kStartTls;  // and no TLS context
  EXPECT_FALSE(HealthChecker::Start(loop->get(), &RealTimeSource::Get(), &table, {{t, 0}}, o).ok());
}

TEST(HealthCheckerPureTest, ConnectorFailuresAreClassified) {
  EXPECT_EQ(ClassifyCheckFailure("connect: Connection refused"), CheckOutcome::kConnectFailed);
  EXPECT_EQ(ClassifyCheckFailure("connect 10.0.0.1:143: Network is unreachable"),
            CheckOutcome::kConnectFailed);
  EXPECT_EQ(ClassifyCheckFailure("connect timeout"), CheckOutcome::kTimeout);
  EXPECT_EQ(ClassifyCheckFailure("login timeout"), CheckOutcome::kTimeout);
  EXPECT_EQ(ClassifyCheckFailure("check timeout"), CheckOutcome::kTimeout);
  EXPECT_EQ(ClassifyCheckFailure("backend TLS handshake: CERTIFICATE_VERIFY_FAILED"),
            CheckOutcome::kTlsFailed);
  EXPECT_EQ(ClassifyCheckFailure("Remote doesn't support STARTTLS"), CheckOutcome::kTlsFailed);
  EXPECT_EQ(ClassifyCheckFailure("backend refused STARTTLS"), CheckOutcome::kTlsFailed);
  EXPECT_EQ(ClassifyCheckFailure("backend greeting is not IMAP"), CheckOutcome::kBadGreeting);
  EXPECT_EQ(ClassifyCheckFailure("backend greeting is PREAUTH"), CheckOutcome::kBadGreeting);
  EXPECT_EQ(ClassifyCheckFailure("backend said BYE"), CheckOutcome::kBadGreeting);
  EXPECT_EQ(ClassifyCheckFailure("backend closed the connection"), CheckOutcome::kProtocolError);
  EXPECT_EQ(ClassifyCheckFailure("backend response line too long"), CheckOutcome::kProtocolError);
}

TEST(HealthCheckerPureTest, JitterStaysWithinItsBounds) {
  EXPECT_EQ(JitteredInterval(1000ms, 0.1, 0.0), 900ms);
  EXPECT_EQ(JitteredInterval(1000ms, 0.1, 0.5), 1000ms);
  EXPECT_EQ(JitteredInterval(1000ms, 0.1, 1.0), 1100ms);
  EXPECT_EQ(JitteredInterval(1000ms, 0.0, 0.9), 1000ms);
  EXPECT_EQ(JitteredInterval(1000ms, 5.0, 0.0), 500ms);  // jitter clamped to 0.5
  EXPECT_EQ(JitteredInterval(1ms, 0.5, 0.0), 1ms);       // never 0
}

}  // namespace
}  // namespace imapgate::upstream
