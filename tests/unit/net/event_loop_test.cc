// Tests for net/event_loop.h: Run/Stop and Post across threads.

#include "net/event_loop.h"

#include <event2/event.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "loop_test_util.h"
#include "net/timer.h"

namespace imapgate::net {
namespace {

using ::imapgate::testing::NewLoop;

// Stops the loop after a generous delay so a broken Post/Stop fails the test instead of hanging.
class Watchdog {
 public:
  explicit Watchdog(EventLoop* loop) {
    auto t = Timer::Create(loop, [this, loop] {
      fired_ = true;
      loop->Stop();
    });
    if (t.ok()) timer_ = std::move(*t);
    if (timer_) timer_->Arm(std::chrono::seconds(10));
  }
  bool fired() const { return fired_; }

 private:
  TimerPtr timer_;
  bool fired_ = false;
};

TEST(EventLoopTest, CreateGivesAnEventBase) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  EXPECT_NE(loop->base(), nullptr);
}

TEST(EventLoopTest, PostBeforeRunRunsOnceRunStarts) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  Watchdog watchdog(loop.get());
  bool ran = false;
  loop->Post([&] {
    ran = true;
    loop->Stop();
  });
  EXPECT_FALSE(ran);  // not synchronously
  loop->Run();
  EXPECT_TRUE(ran);
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, PostsRunInOrder) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  Watchdog watchdog(loop.get());
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) loop->Post([&order, i] { order.push_back(i); });
  loop->Post([&] { loop->Stop(); });
  loop->Run();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, PostFromAnotherThreadRunsOnTheLoopThread) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  Watchdog watchdog(loop.get());
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id ran_on;
  std::thread poster([&] {
    loop->Post([&] {
      ran_on = std::this_thread::get_id();
      loop->Stop();
    });
  });
  loop->Run();
  poster.join();
  EXPECT_FALSE(watchdog.fired());
  EXPECT_EQ(ran_on, loop_thread);
}

TEST(EventLoopTest, PostIsAlsoCalledFromInsideAPostedFunction) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  Watchdog watchdog(loop.get());
  int steps = 0;
  loop->Post([&] {
    ++steps;
    loop->Post([&] {
      ++steps;
      loop->Stop();
    });
  });
  loop->Run();
  EXPECT_EQ(steps, 2);
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, ManyThreadsPostingLoseNothing) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  Watchdog watchdog(loop.get());
  constexpr int kThreads = 4;
  constexpr int kPostsPerThread = 1000;
  int count = 0;  // touched only on the loop thread
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPostsPerThread; ++i) {
        loop->Post([&] {
          if (++count == kThreads * kPostsPerThread) loop->Stop();
        });
      }
    });
  }
  loop->Run();
  for (auto& t : threads) t.join();
  EXPECT_FALSE(watchdog.fired());
  EXPECT_EQ(count, kThreads * kPostsPerThread);
}

TEST(EventLoopTest, StopFromAnotherThreadEndsRun) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  Watchdog watchdog(loop.get());
  std::atomic<bool> running{false};
  loop->Post([&] { running = true; });  // proves Run() has started
  std::thread stopper([&] {
    while (!running) std::this_thread::yield();
    loop->Stop();
  });
  loop->Run();
  stopper.join();
  EXPECT_FALSE(watchdog.fired());
}

TEST(EventLoopTest, DestructorRunsWhatIsStillPosted) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  bool ran = false;
  loop->Post([&] { ran = true; });
  loop.reset();
  EXPECT_TRUE(ran);
}


TEST(EventLoopTest, DeferRunsAfterTheCurrentCallbackInOrder) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  std::vector<int> order;
  auto t = Timer::Create(loop.get(), [&] {
    loop->Defer([&] {
      order.push_back(1);
      loop->Defer([&] { order.push_back(3); });  // deferred from a deferred call: after 2
    });
    loop->Defer([&] { order.push_back(2); });
    order.push_back(0);  // the callback finishes before any deferred call runs
  });
  ASSERT_TRUE(t.ok());
  (*t)->FireSoon();
  ASSERT_TRUE(::imapgate::testing::RunLoopUntil(loop.get(), [&] { return order.size() >= 4; }));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(EventLoopTest, DeferIsNotRunSynchronouslyAndNeedsNoOtherThread) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  bool ran = false;
  loop->Defer([&] { ran = true; });
  EXPECT_FALSE(ran);
  ASSERT_TRUE(::imapgate::testing::RunLoopUntil(loop.get(), [&] { return ran; }));
}

TEST(EventLoopTest, DeferredCallsRunWhenTheLoopIsDestroyed) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  auto owned = std::make_shared<int>(7);
  std::weak_ptr<int> watch = owned;
  loop->Defer([owned = std::move(owned)] {});
  EXPECT_FALSE(watch.expired());
  loop.reset();
  EXPECT_TRUE(watch.expired());  // a deferred deletion is never leaked
}

// libevent's own warnings reach imapgate's logger (logfmt, event=libevent), a few per 10 s.
TEST(EventLoopTest, LibeventWarningsGoThroughOurLoggerRateLimited) {
  auto loop = NewLoop();
  ASSERT_NE(loop, nullptr);
  EventLoop::RouteLibeventLogs();
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 50; ++i) {
    // An event on a descriptor that is not open: epoll_ctl fails and libevent warns.
    EventPtr e(event_new(loop->base(), 1000 + i, EV_READ, [](evutil_socket_t, short, void*) {}, nullptr));
    ASSERT_NE(e, nullptr);
    event_add(e.get(), nullptr);
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  size_t lines = 0;
  for (size_t pos = err.find("event=libevent"); pos != std::string::npos; pos = err.find("event=libevent", pos + 1)) {
    ++lines;
  }
  EXPECT_GE(lines, 1u) << err;
  EXPECT_LE(lines, 5u) << err;
  EXPECT_EQ(err.find("[warn]"), std::string::npos) << err;  // libevent's own format never shows
}

}  // namespace
}  // namespace imapgate::net
