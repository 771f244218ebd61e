// Tests for upstream::WarmPool against scripted backends on 127.0.0.1: it fills to per_backend
// with greeted connections, hands one out and refills, and never hands out one that is too old,
// whose backend became unusable (draining) since it was made, or that the backend closed.

#include "upstream/warm_pool.h"

#include <event2/event.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/time_source.h"
#include "net/event_loop.h"
#include "scripted_backend.h"

namespace imapgate::upstream {
namespace {

using namespace std::chrono_literals;
using Conn = ScriptedBackend::Conn;

class WarmPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
    health_ = std::make_unique<health::BackendHealthTable>(health::HealthPolicy{}, [](const auto&) {});
    index_ = *health_->Add("b1");
  }

  // A pool of one warm connection to `backend` (ages measured on the manual clock).
  void StartPool(const ScriptedBackend& backend) {
    auto pool = WarmPool::Create(loop_.get(), &time_, WarmPoolOptions{1, 10s});
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(*pool);
    WarmTarget t;
    t.target.address = *net::ResolveAddress("127.0.0.1", backend.port());
    t.target.label = "b1";
    t.target.connect_timeout = 2s;
    t.target.login_timeout = 2s;
    t.health = index_;
    pool_->SetTargets({t}, health_.get());
  }

  bool RunUntil(const std::function<bool()>& cond) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!cond() && std::chrono::steady_clock::now() < deadline) {
      event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(200us);
    }
    return cond();
  }

  // A backend that greets and then waits for the connection to close (or closes it after
  // `close_after` when given).
  static void Greet(ScriptedBackend& b, std::chrono::milliseconds close_after = 0ms) {
    b.Run([close_after](Conn& c) {
      c.Send("* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n");
      if (close_after.count() > 0) {
        std::this_thread::sleep_for(close_after);
        return;  // the fixture closes its side
      }
      c.ReadUntilClose();
    });
  }

  std::unique_ptr<net::EventLoop> loop_;
  ManualTimeSource time_;
  std::unique_ptr<health::BackendHealthTable> health_;
  size_t index_ = 0;
  WarmPoolPtr pool_;
};

TEST_F(WarmPoolTest, FillsWithAGreetedConnectionAndHandsItOut) {
  ScriptedBackend backend;
  Greet(backend);
  StartPool(backend);
  ASSERT_TRUE(RunUntil([&] { return pool_->ready(index_) == 1; }));
  std::optional<BackendConnection> c = pool_->Take(index_);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->connection.open());
  EXPECT_EQ(c->capabilities, "IMAP4rev1 LITERAL+");
  EXPECT_EQ(pool_->ready(index_), 0u);
  EXPECT_FALSE(pool_->Take(index_).has_value());  // nothing more until it refills
  EXPECT_FALSE(pool_->Take(index_ + 7).has_value());  // a backend the pool does not keep
}

TEST_F(WarmPoolTest, AConnectionOlderThanMaxAgeIsNotHandedOut) {
  ScriptedBackend backend;
  Greet(backend);
  StartPool(backend);
  ASSERT_TRUE(RunUntil([&] { return pool_->ready(index_) == 1; }));
  time_.Advance(11s);
  EXPECT_FALSE(pool_->Take(index_).has_value());
}

TEST_F(WarmPoolTest, AConnectionMadeBeforeTheBackendWasDrainedIsNotHandedOut) {
  ScriptedBackend backend;
  Greet(backend);
  StartPool(backend);
  ASSERT_TRUE(RunUntil([&] { return pool_->ready(index_) == 1; }));
  health_->SetDraining(index_, true);
  health_->SetDraining(index_, false);  // usable again, but the connection predates the drain
  EXPECT_FALSE(pool_->Take(index_).has_value());
}

TEST_F(WarmPoolTest, AConnectionTheBackendClosedIsNotHandedOut) {
  ScriptedBackend backend;
  Greet(backend, 50ms);
  StartPool(backend);
  ASSERT_TRUE(RunUntil([&] { return pool_->ready(index_) == 1; }));
  std::this_thread::sleep_for(300ms);  // the backend closes it meanwhile
  event_base_loop(loop_->base(), EVLOOP_NONBLOCK);
  EXPECT_FALSE(pool_->Take(index_).has_value());
}

}  // namespace
}  // namespace imapgate::upstream
