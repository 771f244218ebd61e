// Tests for upstream::BackendConnector used on its own, as a health check does (issue D):
// connect, greeting, CAPABILITY when required, and the failures; no LOGIN is ever sent. The
// login on top of it (and STARTTLS/TLS through it) is covered by backend_login_test.cc.

#include "upstream/backend_connector.h"

#include <event2/event.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "common/time_source.h"
#include "net/event_loop.h"
#include "scripted_backend.h"

namespace imapgate::upstream {
namespace {

using namespace std::chrono_literals;
using Conn = ScriptedBackend::Conn;

class BackendConnectorTest : public ::testing::Test, public ConnectorClient {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
    auto address = net::ResolveAddress("127.0.0.1", backend_.port());
    ASSERT_TRUE(address.ok());
    target_.address = *address;
    target_.label = "check";
    auto timer = net::Timer::Create(loop_.get(), [this] { connector_->OnTimer(); });
    ASSERT_TRUE(timer.ok());
    timer_ = std::move(*timer);
  }
  void TearDown() override {
    ready_.reset();
    connector_.reset();
    backend_.Join();
  }

  void OnBackendReady(BackendConnection c) override { ready_ = std::move(c); }
  void OnBackendFailed(std::string detail) override { failed_ = std::move(detail); }

  void Start(bool require_capability) {
    auto c = BackendConnector::Start(loop_.get(), &RealTimeSource::Get(), target_, timer_.get(), this,
                                     scratch_.data(), scratch_.size(), require_capability);
    ASSERT_TRUE(c.ok()) << c.status().message();
    connector_ = std::move(*c);
  }

  bool WaitResult() {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!ready_ && !failed_ && std::chrono::steady_clock::now() < deadline) {
      event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(200us);
    }
    return ready_.has_value() || failed_.has_value();
  }

  std::unique_ptr<net::EventLoop> loop_;
  ScriptedBackend backend_;
  BackendTarget target_;
  net::TimerPtr timer_;
  std::vector<char> scratch_ = std::vector<char>(65536);
  BackendConnectorPtr connector_;
  std::optional<BackendConnection> ready_;
  std::optional<std::string> failed_;
};

TEST_F(BackendConnectorTest, GreetingWithCapabilitiesIsReadyWithoutACommand) {
  backend_.Run([](Conn& c) {
    c.Send("* OK [CAPABILITY IMAP4rev1 ID] hi\r\n");
    EXPECT_EQ(c.ReadUntilClose(), "");  // a health check sends nothing
  });
  Start(/*require_capability=*/true);
  ASSERT_TRUE(WaitResult());
  ASSERT_TRUE(ready_.has_value()) << *failed_;
  EXPECT_EQ(ready_->capabilities, "IMAP4rev1 ID");
  EXPECT_TRUE(ready_->connection.open());
  EXPECT_TRUE(connector_->done());
}

TEST_F(BackendConnectorTest, GreetingWithoutCapabilitiesAsksForThemWhenRequired) {
  backend_.Run([](Conn& c) {
    c.Send("* OK hi\r\n");
    EXPECT_EQ(c.ReadLine(), "A1 CAPABILITY\r\n");
    c.Send("* CAPABILITY IMAP4rev1 IDLE\r\nA1 OK done\r\n");
    c.ReadUntilClose();
  });
  Start(/*require_capability=*/true);
  ASSERT_TRUE(WaitResult());
  ASSERT_TRUE(ready_.has_value()) << *failed_;
  EXPECT_EQ(ready_->capabilities, "IMAP4rev1 IDLE");
}

TEST_F(BackendConnectorTest, WithoutRequireCapabilityTheGreetingIsEnough) {
  backend_.Run([](Conn& c) {
    c.Send("* OK hi\r\n");
    EXPECT_EQ(c.ReadUntilClose(), "");  // the login path saves the round trip
  });
  Start(/*require_capability=*/false);
  ASSERT_TRUE(WaitResult());
  ASSERT_TRUE(ready_.has_value()) << *failed_;
  EXPECT_EQ(ready_->capabilities, "");
}

TEST_F(BackendConnectorTest, PreauthGreetingFails) {
  backend_.Run([](Conn& c) {
    c.Send("* PREAUTH hi\r\n");
    c.ReadUntilClose();
  });
  Start(false);
  ASSERT_TRUE(WaitResult());
  ASSERT_TRUE(failed_.has_value());
  EXPECT_NE(failed_->find("PREAUTH"), std::string::npos) << *failed_;
}

TEST_F(BackendConnectorTest, RefusedConnectFails) {
  auto any = net::ResolveAddress("127.0.0.1", 0);
  uint16_t port;
  {
    auto fd = net::ListenOn(*any, /*reuse_port=*/false);
    ASSERT_TRUE(fd.ok());
    port = net::LocalAddress(fd->get()).Port();
  }  // closed: nothing accepts on this port
  target_.address = *net::ResolveAddress("127.0.0.1", port);
  Start(false);
  ASSERT_TRUE(WaitResult());
  ASSERT_TRUE(failed_.has_value());
  EXPECT_NE(failed_->find("connect"), std::string::npos) << *failed_;
}

}  // namespace
}  // namespace imapgate::upstream
