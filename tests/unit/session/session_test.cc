// Tests for session::Session over a socketpair (the client end is played by the test, with a
// BoringSSL client for the implicit-TLS listener) and a real event loop turned by hand: the
// finished_ guard (exactly one end per session, whatever arrives late), the order of deferred
// deletions (the login is freed before the session), the login_failed line (client address,
// warn for a backend that cannot be reached), and the Session as the pipeline's host (a step's
// own timeout outlasting the pre-login timeout, a SASL continuation), with scripted steps. The backend is a socket on 127.0.0.1: a closed
// port (unreachable) or a listener that never answers (a login in flight).

#include "session/session.h"

#include <event2/event.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "../common/stderr_capture.h"
#include "../login/fake_steps.h"
#include "server/generation.h"
#include "test_certs.h"

namespace imapgate::session {
namespace {

using namespace std::chrono_literals;

using ::imapgate::testing::StderrCapture;

struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
    auto metrics = stats::Metrics::Create({"imaps"}, "backend", "test");
    ASSERT_TRUE(metrics.ok()) << metrics.status().message();
    metrics_ = std::move(*metrics);
    const auto& certs = testing::GetTestCerts();
    ASSERT_TRUE(certs.ok) << certs.error;
    auto ctx = tls::TlsServerContext::Create(certs.server_cert, certs.server_key);
    ASSERT_TRUE(ctx.ok());
    server_ctx_ = std::move(*ctx);
    listener_.name = "imaps";
    listener_.frontend.tls = server_ctx_.get();
    listener_.frontend.implicit_tls = true;
    backend_.label = "backend";
    backend_.server_name = "localhost";
    backend_.login_timeout = 5s;
    worker_.loop = loop_.get();
    worker_.metrics = metrics_.get();
    worker_.time = &time_;
    worker_.generation = generation_;  // the session copies it at creation
    worker_.scratch = scratch_.data();
    worker_.scratch_size = scratch_.size();
    worker_.id_prefix = "t-";
    // Like the worker: forget the session, delete it from a later loop callback.
    worker_.on_session_done = [this](Session* s) {
      ++done_calls_;
      ASSERT_EQ(s, session_);
      if (!auto_delete_) return;  // the test deletes it
      loop_->Post([this, s] {
        tickets_live_at_delete_ = worker_.tickets.live();
        delete s;
        session_ = nullptr;
      });
    };
  }

  void TearDown() override {
    ssl_.reset();
    if (session_ != nullptr) delete session_;
  }

  // Points the backend at 127.0.0.1:`port`.
  void BackendAt(uint16_t port) {
    auto address = net::ResolveAddress("127.0.0.1", port);
    ASSERT_TRUE(address.ok());
    backend_.address = *address;
  }

  // A port on which nothing listens (bound, then closed).
  uint16_t ClosedPort() {
    auto any = net::ResolveAddress("127.0.0.1", 0);
    auto fd = net::ListenOn(*any, /*reuse_port=*/false);
    EXPECT_TRUE(fd.ok());
    return net::LocalAddress(fd->get()).Port();
  }

  void StartSession() {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    client_.reset(fds[1]);
    auto peer = net::ResolveAddress("192.0.2.9", 40999);
    ASSERT_TRUE(peer.ok());
    auto s = Session::Create(&worker_, &listener_, net::UniqueFd(fds[0]), *peer);
    ASSERT_TRUE(s.ok()) << s.status().message();
    session_ = s->release();
    session_->Start();
    ctx_.reset(SSL_CTX_new(TLS_method()));
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), client_.get());
    SSL_set_connect_state(ssl_.get());
    ASSERT_TRUE(PumpUntil([&] {
      int rc = SSL_do_handshake(ssl_.get());
      return rc == 1;
    }));
    ASSERT_TRUE(Receive("imapgate ready\r\n"));
  }

  bool PumpUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
      if (done()) return true;
      std::this_thread::sleep_for(200us);
    }
    return done();
  }

  void Pump(int turns) {
    for (int i = 0; i < turns; ++i) {
      event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(200us);
    }
  }

  bool Receive(std::string_view needle) {
    return PumpUntil([&] {
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl_.get(), buf, sizeof buf)) > 0) received_.append(buf, n);
      return received_.find(needle) != std::string::npos;
    });
  }

  void Send(std::string_view bytes) {
    ASSERT_EQ(SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())), static_cast<int>(bytes.size()));
  }

  std::unique_ptr<net::EventLoop> loop_;
  std::unique_ptr<stats::Metrics> metrics_;
  std::shared_ptr<tls::TlsServerContext> server_ctx_;
  ManualTimeSource time_;
  // The configuration the sessions run under; backend_ is its target, set up before each session.
  static std::shared_ptr<server::Generation> OneBackendGeneration() {
    auto g = std::make_shared<server::Generation>();
    auto pool = login::SingleBackendPool("default", upstream::BackendTarget{});
    EXPECT_TRUE(pool.ok());
    if (pool.ok()) g->pool = std::move(*pool);
    return g;
  }
  std::shared_ptr<server::Generation> generation_ = OneBackendGeneration();
  upstream::BackendTarget& backend_ = generation_->pool.backends[0].target;
  ListenerContext listener_;
  std::vector<char> scratch_ = std::vector<char>(65536);
  WorkerContext worker_;
  Session* session_ = nullptr;
  int done_calls_ = 0;
  bool auto_delete_ = true;
  size_t tickets_live_at_delete_ = 99;
  net::UniqueFd client_;
  std::unique_ptr<SSL_CTX, SslDeleter> ctx_;
  std::unique_ptr<SSL, SslDeleter> ssl_;
  std::string received_;
};

TEST_F(SessionTest, LogoutEndsTheSessionExactlyOnce) {
  BackendAt(ClosedPort());
  StartSession();
  Send("a LOGOUT\r\n");
  ASSERT_TRUE(Receive("a OK"));
  ASSERT_TRUE(PumpUntil([&] { return session_ == nullptr; }));
  EXPECT_EQ(done_calls_, 1);
}

TEST_F(SessionTest, LateEventsAfterTheEndAreIgnored) {
  BackendAt(ClosedPort());
  StartSession();
  auto_delete_ = false;
  Send("a LOGOUT\r\n");
  ASSERT_TRUE(PumpUntil([&] { return done_calls_ == 1; }));
  // The finished_ guard: whatever arrives after the end changes nothing and ends nothing twice.
  StderrCapture capture;
  session_->Shutdown();
  session_->OnLoginDecided(login::Verdict::Reject(login::RejectReason::kUnavailable, "late"), "backend_login");
  session_->OnFrontendEnded(frontend::FrontendEnd::kClientClosed);
  Pump(5);
  EXPECT_EQ(done_calls_, 1);
  std::string log = capture.Take();
  EXPECT_EQ(log.find("login_failed"), std::string::npos) << "a late login verdict was reported: " << log;
  EXPECT_EQ(log.find("session_end"), std::string::npos) << "the session ended twice: " << log;
}

TEST_F(SessionTest, UnreachableBackendIsAWarnWithTheClientAddress) {
  BackendAt(ClosedPort());
  StartSession();
  StderrCapture capture;
  Send("a LOGIN alice secret-pw\r\n");
  ASSERT_TRUE(Receive("a NO [UNAVAILABLE]"));
  std::string log = capture.Take();
  size_t at = log.find("event=login_failed");
  ASSERT_NE(at, std::string::npos) << log;
  std::string line = log.substr(log.rfind('\n', at) + 1);
  line = line.substr(0, line.find('\n'));
  EXPECT_NE(line.find("level=warn"), std::string::npos) << line;
  EXPECT_NE(line.find("client=192.0.2.9"), std::string::npos) << line;
  EXPECT_NE(line.find("user=alice"), std::string::npos) << line;
  EXPECT_EQ(log.find("secret-pw"), std::string::npos) << "a password reached the log";
  EXPECT_FALSE(session_->login_in_flight());
  EXPECT_EQ(done_calls_, 0);  // a failed login does not end the session
}

TEST_F(SessionTest, ShutdownDuringTheLoginEndsOnceAndFreesTheLoginBeforeTheSession) {
  auto any = net::ResolveAddress("127.0.0.1", 0);
  auto silent = net::ListenOn(*any, /*reuse_port=*/false);  // accepts (backlog), never greets
  ASSERT_TRUE(silent.ok());
  BackendAt(net::LocalAddress(silent->get()).Port());
  StartSession();
  Send("a LOGIN alice secret-pw\r\n");
  ASSERT_TRUE(PumpUntil([&] { return session_->login_in_flight(); }));
  Pump(5);
  EXPECT_EQ(worker_.tickets.live(), 1u);  // the backend login step is waiting
  session_->Shutdown();  // BYE to the client while the backend login is in flight
  ASSERT_TRUE(Receive("* BYE Server shutting down"));
  ASSERT_TRUE(PumpUntil([&] { return session_ == nullptr; }));
  EXPECT_EQ(done_calls_, 1);
  // The login was deleted (and its ticket released) by a deletion posted before the session's.
  EXPECT_EQ(tickets_live_at_delete_, 0u);
  Pump(5);
  EXPECT_EQ(done_calls_, 1);
}

TEST_F(SessionTest, AStepTimeoutAnswersNoBeforeThePreloginTimeoutCuts) {
  BackendAt(ClosedPort());
  listener_.frontend.preauth_timeout = 100ms;
  login::ScriptedStep push("second_factor", login::LoginStep::Phase::kCheck, 400ms);  // never answers
  login::LoginStep* steps[] = {&push};
  worker_.login_steps = steps;
  StartSession();
  StderrCapture capture;
  Send("a LOGIN alice secret-pw\r\n");
  ASSERT_TRUE(Receive("a NO [UNAVAILABLE]")) << received_;
  EXPECT_EQ(received_.find("* BYE"), std::string::npos) << "the pre-login timer cut the waiting step: " << received_;
  EXPECT_EQ(push.cancelled, 1);
  std::string log = capture.Take();
  EXPECT_NE(log.find("second_factor timed out"), std::string::npos) << log;
  EXPECT_EQ(worker_.tickets.live(), 0u);
}

TEST_F(SessionTest, AStepCanAskTheClientForASaslContinuation) {
  BackendAt(ClosedPort());
  login::ScriptedStep otp("second_factor", login::LoginStep::Phase::kCheck);
  login::LoginStep* steps[] = {&otp};
  worker_.login_steps = steps;
  StartSession();
  Send("a LOGIN alice secret-pw\r\n");
  ASSERT_TRUE(PumpUntil([&] { return otp.waiting(); }));
  EXPECT_EQ(otp.seen_user, "alice");
  otp.AskClient("T1RQPw==");
  ASSERT_TRUE(Receive("+ T1RQPw==\r\n")) << received_;
  Send("MTIzNDU2\r\n");
  ASSERT_TRUE(PumpUntil([&] { return !otp.responses.empty(); }));
  EXPECT_EQ(otp.responses[0], "MTIzNDU2");
  otp.Answer(login::Verdict::Reject(login::RejectReason::kAuthFailed, "wrong code"));
  ASSERT_TRUE(Receive("a NO [AUTHENTICATIONFAILED]")) << received_;
  EXPECT_EQ(done_calls_, 0);
}

}  // namespace
}  // namespace imapgate::session
