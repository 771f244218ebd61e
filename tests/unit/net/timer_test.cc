// Tests for net/timer.h: Arm, Cancel, re-arm. Waits use short delays only; a sentinel timer with
// a longer delay shows that something did NOT fire, without assuming how fast the machine is.

#include "net/timer.h"

#include <gtest/gtest.h>

#include <chrono>

#include "loop_test_util.h"

namespace imapgate::net {
namespace {

using ::imapgate::testing::NewLoop;
using ::imapgate::testing::RunLoopUntil;
using std::chrono::milliseconds;

class TimerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    loop_ = NewLoop();
    ASSERT_NE(loop_, nullptr);
  }
  TimerPtr MakeTimer(std::function<void()> fn) {
    auto t = Timer::Create(loop_.get(), std::move(fn));
    EXPECT_TRUE(t.ok());
    return t.ok() ? std::move(*t) : nullptr;
  }
  // Runs the loop until a timer armed now with `delay` has fired.
  bool RunFor(milliseconds delay) {
    bool sentinel_fired = false;
    TimerPtr sentinel = MakeTimer([&] { sentinel_fired = true; });
    sentinel->Arm(delay);
    return RunLoopUntil(loop_.get(), [&] { return sentinel_fired; });
  }

  std::unique_ptr<EventLoop> loop_;
};

TEST_F(TimerTest, NotArmedUntilArmed) {
  TimerPtr t = MakeTimer([] {});
  EXPECT_FALSE(t->armed());
  t->Arm(milliseconds(1000));
  EXPECT_TRUE(t->armed());
}

TEST_F(TimerTest, FiresOnceAfterArm) {
  int fired = 0;
  TimerPtr t = MakeTimer([&] { ++fired; });
  t->Arm(milliseconds(1));
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return fired > 0; }));
  EXPECT_FALSE(t->armed());
  ASSERT_TRUE(RunFor(milliseconds(20)));
  EXPECT_EQ(fired, 1);
}

TEST_F(TimerTest, ZeroDelayFiresOnTheNextIteration) {
  bool fired = false;
  TimerPtr t = MakeTimer([&] { fired = true; });
  t->Arm(milliseconds(0));
  EXPECT_FALSE(fired);
  EXPECT_TRUE(RunLoopUntil(
      loop_.get(), [&] { return fired; }, 10));
}

TEST_F(TimerTest, FireSoonRunsOnceFromTheLoopNotInline) {
  int fired = 0;
  TimerPtr t = MakeTimer([&] { ++fired; });
  t->Arm(milliseconds(3600 * 1000));  // a pending deadline is replaced, not added to
  t->FireSoon();
  EXPECT_EQ(fired, 0);  // never inside the caller
  EXPECT_TRUE(t->armed());
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return fired > 0; }, 10));
  EXPECT_FALSE(t->armed());
  ASSERT_TRUE(RunFor(milliseconds(20)));
  EXPECT_EQ(fired, 1);
}

TEST_F(TimerTest, CancelStopsFireSoon) {
  bool fired = false;
  TimerPtr t = MakeTimer([&] { fired = true; });
  t->FireSoon();
  t->Cancel();
  EXPECT_FALSE(t->armed());
  ASSERT_TRUE(RunFor(milliseconds(20)));
  EXPECT_FALSE(fired);
}

TEST_F(TimerTest, CancelPreventsFiring) {
  bool fired = false;
  TimerPtr t = MakeTimer([&] { fired = true; });
  t->Arm(milliseconds(5));
  t->Cancel();
  EXPECT_FALSE(t->armed());
  ASSERT_TRUE(RunFor(milliseconds(30)));
  EXPECT_FALSE(fired);
}

TEST_F(TimerTest, CancelOfAnUnarmedTimerIsHarmless) {
  TimerPtr t = MakeTimer([] {});
  t->Cancel();
  t->Cancel();
  EXPECT_FALSE(t->armed());
}

TEST_F(TimerTest, RearmReplacesTheDeadline) {
  bool fired = false;
  TimerPtr t = MakeTimer([&] { fired = true; });
  t->Arm(milliseconds(3600 * 1000));
  t->Arm(milliseconds(1));  // sooner: must fire now, not in an hour
  EXPECT_TRUE(RunLoopUntil(loop_.get(), [&] { return fired; }));
}

TEST_F(TimerTest, RearmCanPostponeTheDeadline) {
  bool fired = false;
  TimerPtr t = MakeTimer([&] { fired = true; });
  t->Arm(milliseconds(1));
  t->Arm(milliseconds(3600 * 1000));
  ASSERT_TRUE(RunFor(milliseconds(30)));
  EXPECT_FALSE(fired);
  EXPECT_TRUE(t->armed());
}

TEST_F(TimerTest, CanBeRearmedFromItsOwnCallback) {
  int fired = 0;
  Timer* raw = nullptr;
  TimerPtr t = MakeTimer([&] {
    if (++fired < 3) raw->Arm(milliseconds(1));
  });
  raw = t.get();
  t->Arm(milliseconds(1));
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return fired == 3; }));
  ASSERT_TRUE(RunFor(milliseconds(20)));
  EXPECT_EQ(fired, 3);
}

TEST_F(TimerTest, DestroyingCancels) {
  bool fired = false;
  TimerPtr t = MakeTimer([&] { fired = true; });
  t->Arm(milliseconds(5));
  t.reset();
  ASSERT_TRUE(RunFor(milliseconds(30)));
  EXPECT_FALSE(fired);
}

TEST_F(TimerTest, ShorterDelayFiresFirst) {
  std::string order;
  TimerPtr slow = MakeTimer([&] { order += "slow"; });
  TimerPtr fast = MakeTimer([&] { order += "fast,"; });
  slow->Arm(milliseconds(20));
  fast->Arm(milliseconds(1));
  ASSERT_TRUE(RunLoopUntil(loop_.get(), [&] { return order.size() == 9; }));
  EXPECT_EQ(order, "fast,slow");
}

}  // namespace
}  // namespace imapgate::net
