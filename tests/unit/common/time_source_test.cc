// Tests for common/time_source.h.

#include "common/time_source.h"

#include <gtest/gtest.h>

#include <chrono>

namespace imapgate {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(ManualTimeSourceTest, StandsStillUntilAdvanced) {
  ManualTimeSource time;
  const auto t0 = time.MonotonicNow();
  EXPECT_EQ(time.MonotonicNow(), t0);
  time.Advance(milliseconds(50));
  EXPECT_EQ(time.MonotonicNow() - t0, milliseconds(50));
  time.Advance(nanoseconds(1));
  EXPECT_EQ(time.MonotonicNow() - t0, milliseconds(50) + nanoseconds(1));
}

TEST(ManualTimeSourceTest, WallClockMovesWithTheMonotonicClock) {
  ManualTimeSource time;
  const auto wall0 = time.WallNow();
  time.Advance(std::chrono::seconds(3));
  EXPECT_EQ(time.WallNow() - wall0, std::chrono::seconds(3));
}

TEST(ManualTimeSourceTest, UsableThroughTheInterface) {
  ManualTimeSource manual;
  const TimeSource& time = manual;
  const auto t0 = time.MonotonicNow();
  manual.Advance(milliseconds(7));
  EXPECT_EQ(time.MonotonicNow() - t0, milliseconds(7));
}

TEST(RealTimeSourceTest, IsOneInstanceAndMonotonic) {
  EXPECT_EQ(&RealTimeSource::Get(), &RealTimeSource::Get());
  const auto a = RealTimeSource::Get().MonotonicNow();
  const auto b = RealTimeSource::Get().MonotonicNow();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace imapgate
