// Tests for net/io_watcher.h: level-triggered readiness per direction, ActivateRead, handlers.

#include "net/io_watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "loop_test_util.h"
#include "net/timer.h"

namespace imapgate::net {
namespace {

using ::imapgate::testing::MakeSocketPair;
using ::imapgate::testing::NewLoop;
using ::imapgate::testing::RunLoopUntil;
using ::imapgate::testing::SocketPair;

class RecordingHandler : public IoHandler {
 public:
  void OnIo(IoWatcher* watcher, bool readable, bool writable) override {
    last_watcher = watcher;
    if (readable) ++reads;
    if (writable) ++writes;
  }
  IoWatcher* last_watcher = nullptr;
  int reads = 0;
  int writes = 0;
};

class IoWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = NewLoop();
    ASSERT_NE(loop_, nullptr);
    pair_ = MakeSocketPair();
    ASSERT_TRUE(pair_.a.valid());
    auto w = IoWatcher::Create(loop_.get(), pair_.a.get(), &handler_);
    ASSERT_TRUE(w.ok());
    watcher_ = std::move(*w);
  }
  // Runs the loop until a 20 ms sentinel fires: whatever was ready has been dispatched by then.
  void Settle() {
    bool done = false;
    auto t = Timer::Create(loop_.get(), [&] { done = true; });
    ASSERT_TRUE(t.ok());
    (*t)->Arm(std::chrono::milliseconds(20));
    ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return done; }));
  }
  void PeerWrites(const char* s) { ASSERT_GT(::write(pair_.b.get(), s, strlen(s)), 0); }

  std::unique_ptr<EventLoop> loop_;
  SocketPair pair_;
  RecordingHandler handler_;
  IoWatcherPtr watcher_;
};

TEST_F(IoWatcherTest, StartsWithNoInterest) {
  EXPECT_EQ(watcher_->fd(), pair_.a.get());
  EXPECT_FALSE(watcher_->wants_read());
  EXPECT_FALSE(watcher_->wants_write());
  PeerWrites("x");
  Settle();
  EXPECT_EQ(handler_.reads, 0);
  EXPECT_EQ(handler_.writes, 0);
}

TEST_F(IoWatcherTest, ReadableWhenThePeerWrites) {
  watcher_->WantRead(true);
  EXPECT_TRUE(watcher_->wants_read());
  Settle();
  EXPECT_EQ(handler_.reads, 0);  // nothing to read yet
  PeerWrites("x");
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return handler_.reads > 0; }));
  EXPECT_EQ(handler_.last_watcher, watcher_.get());
  EXPECT_EQ(handler_.writes, 0);
}

TEST_F(IoWatcherTest, ReadinessIsLevelTriggered) {
  watcher_->WantRead(true);
  PeerWrites("x");  // never consumed
  EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return handler_.reads >= 3; }));
}

TEST_F(IoWatcherTest, WantReadFalseStopsNotifications) {
  watcher_->WantRead(true);
  PeerWrites("x");
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return handler_.reads > 0; }));
  watcher_->WantRead(false);
  EXPECT_FALSE(watcher_->wants_read());
  const int before = handler_.reads;
  Settle();
  EXPECT_EQ(handler_.reads, before);
}

TEST_F(IoWatcherTest, WritableWhenWanted) {
  watcher_->WantWrite(true);
  EXPECT_TRUE(watcher_->wants_write());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return handler_.writes > 0; }));
  EXPECT_EQ(handler_.reads, 0);
  watcher_->WantWrite(false);
  const int before = handler_.writes;
  Settle();
  EXPECT_EQ(handler_.writes, before);
}

TEST_F(IoWatcherTest, RepeatedWantCallsAreIdempotent) {
  watcher_->WantRead(true);
  watcher_->WantRead(true);
  watcher_->WantRead(false);  // one "off" undoes any number of "on"s
  PeerWrites("x");
  Settle();
  EXPECT_EQ(handler_.reads, 0);
}

TEST_F(IoWatcherTest, ActivateReadRunsTheHandlerWithoutData) {
  watcher_->ActivateRead();
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return handler_.reads == 1; }));
  Settle();
  EXPECT_EQ(handler_.reads, 1);  // once, and no readiness was armed
  EXPECT_FALSE(watcher_->wants_read());
}

TEST_F(IoWatcherTest, HandlerCanBeSwapped) {
  RecordingHandler other;
  watcher_->set_handler(&other);
  watcher_->WantRead(true);
  PeerWrites("x");
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return other.reads > 0; }));
  EXPECT_EQ(handler_.reads, 0);
}

TEST_F(IoWatcherTest, NullHandlerIgnoresEventsAndDisarms) {
  watcher_->set_handler(nullptr);
  watcher_->WantRead(true);
  watcher_->WantWrite(true);
  watcher_->ActivateRead();
  PeerWrites("x");
  // Between owners: the first readiness event disarms the watcher, so unconsumed
  // level-triggered input cannot make every loop turn dispatch to nobody.
  ::imapgate::testing::RunLoopFor(loop_.get(), 10);  // must not crash
  EXPECT_EQ(handler_.reads, 0);
  EXPECT_FALSE(watcher_->wants_read());
  EXPECT_FALSE(watcher_->wants_write());
  // The next owner re-arms and gets the bytes that are still waiting.
  watcher_->set_handler(&handler_);
  watcher_->WantRead(true);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return handler_.reads > 0; }));
}

TEST_F(IoWatcherTest, DestroyingTheWatcherStopsEvents) {
  watcher_->WantRead(true);
  watcher_->ActivateRead();
  watcher_.reset();
  PeerWrites("x");
  Settle();
  EXPECT_EQ(handler_.reads, 0);
}

TEST_F(IoWatcherTest, TwoWatchersShareOneHandler) {
  SocketPair second = MakeSocketPair();
  auto w2 = IoWatcher::Create(loop_.get(), second.a.get(), &handler_);
  ASSERT_TRUE(w2.ok());
  (*w2)->WantRead(true);
  ASSERT_GT(::write(second.b.get(), "y", 1), 0);
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return handler_.reads > 0; }));
  EXPECT_EQ(handler_.last_watcher, w2->get());
}

}  // namespace
}  // namespace imapgate::net
