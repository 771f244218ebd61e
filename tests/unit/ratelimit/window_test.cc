// SlidingWindow: slot arithmetic, expiry, sliding, distinct fingerprints, saturation.
#include "ratelimit/window.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace imapgate::ratelimit {
namespace {

using std::chrono::milliseconds;

const WindowSpec kTenMinutes{milliseconds(600'000), 6};  // 100 s slots
constexpr int64_t kSlot = 100'000;
constexpr int64_t kT0 = 1'000'000'000;  // a slot boundary, far from zero

TEST(WindowSpecTest, BucketMsIsLengthOverBucketsAndAtLeastOne) {
  EXPECT_EQ(kTenMinutes.BucketMs(), 100'000);
  EXPECT_EQ((WindowSpec{milliseconds(60'000), 6}).BucketMs(), 10'000);
  EXPECT_EQ((WindowSpec{milliseconds(3), 12}).BucketMs(), 1);
  EXPECT_EQ((WindowSpec{milliseconds(0), 6}).BucketMs(), 1);
  // Bucket counts outside 1..kMaxBuckets are clamped.
  EXPECT_EQ((WindowSpec{milliseconds(1200), 0}).BucketMs(), 1200);
  EXPECT_EQ((WindowSpec{milliseconds(1200), 100}).BucketMs(), 100);
}

TEST(SlidingWindowTest, CompactLayout) { EXPECT_LE(sizeof(SlidingWindow), 72u); }

TEST(SlidingWindowTest, EmptyWindowCountsNothingAndIsExpired) {
  SlidingWindow w;
  EXPECT_EQ(w.Count(kTenMinutes, kT0), 0u);
  EXPECT_TRUE(w.Expired(kTenMinutes, kT0));
}

TEST(SlidingWindowTest, SlotBoundaries) {
  SlidingWindow w;
  ASSERT_TRUE(w.Add(kTenMinutes, kT0 + kSlot - 1, 0));  // the last ms of slot 0
  ASSERT_TRUE(w.Add(kTenMinutes, kT0 + kSlot, 0));      // the first ms of slot 1
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + kSlot), 2u);
  // Slot 5 is the last window that still holds slot 0.
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 6 * kSlot - 1), 2u);
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 6 * kSlot), 1u);  // slot 0 slid out
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 7 * kSlot - 1), 1u);
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 7 * kSlot), 0u);  // slot 1 too
  EXPECT_FALSE(w.Expired(kTenMinutes, kT0 + 7 * kSlot - 1));
  EXPECT_TRUE(w.Expired(kTenMinutes, kT0 + 7 * kSlot));
}

TEST(SlidingWindowTest, SlidesOneSlotAtATime) {
  SlidingWindow w;
  for (int i = 0; i < 12; ++i) {
    // Two events per slot; the window holds the last 6 slots at most.
    ASSERT_TRUE(w.Add(kTenMinutes, kT0 + i * kSlot, 0));
    ASSERT_TRUE(w.Add(kTenMinutes, kT0 + i * kSlot + 5, 0));
    EXPECT_EQ(w.Count(kTenMinutes, kT0 + i * kSlot + 5), 2u * static_cast<uint32_t>(std::min(i + 1, 6)))
        << "slot " << i;
  }
}

TEST(SlidingWindowTest, ExpiresAfterTheWholeWindowAndStartsAfresh) {
  SlidingWindow w;
  for (int i = 0; i < 5; ++i) w.Add(kTenMinutes, kT0, 0);
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 10 * kSlot), 0u);
  ASSERT_TRUE(w.Add(kTenMinutes, kT0 + 10 * kSlot, 0));
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 10 * kSlot), 1u);  // the old 5 are gone
}

TEST(SlidingWindowTest, ClockALittleBehindCountsInTheNewestSlot) {
  SlidingWindow w;
  w.Add(kTenMinutes, kT0 + 5 * kSlot, 0);
  // Another instance's clock, two slots behind: counted now, not in a slot already gone by.
  ASSERT_TRUE(w.Add(kTenMinutes, kT0 + 3 * kSlot, 0));
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 3 * kSlot), 2u);  // a past `now` reads as the newest slot
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 10 * kSlot), 2u);  // both live in slot 5
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 11 * kSlot), 0u);
}

TEST(SlidingWindowTest, RepeatedFingerprintCountsOnce) {
  SlidingWindow w;
  EXPECT_TRUE(w.Add(kTenMinutes, kT0, 0xABCD));
  for (int i = 1; i < 50; ++i) {
    EXPECT_FALSE(w.Add(kTenMinutes, kT0 + i * 1000, 0xABCD));
  }
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 50'000), 1u);
  EXPECT_TRUE(w.Add(kTenMinutes, kT0 + 50'000, 0x1234));
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 50'000), 2u);
}

TEST(SlidingWindowTest, StaleRetriesAcrossSlotsDoNotEscalate) {
  // A phone retrying one old password every 90 s for two hours: never more than one failure in
  // the window (it counts again only once its last counted try has left the window).
  SlidingWindow w;
  int counted = 0;
  for (int i = 0; i < 80; ++i) {
    const int64_t now = kT0 + i * 90'000;
    counted += w.Add(kTenMinutes, now, 77) ? 1 : 0;
    ASSERT_EQ(w.Count(kTenMinutes, now), 1u) << "try " << i;
  }
  EXPECT_LE(counted, 80 * 90 / 600 + 1);
}

TEST(SlidingWindowTest, FingerprintCountsAgainOnceItsSlotLeftTheWindow) {
  SlidingWindow w;
  ASSERT_TRUE(w.Add(kTenMinutes, kT0, 77));              // slot 0
  ASSERT_TRUE(w.Add(kTenMinutes, kT0 + 3 * kSlot, 78));  // slot 3: the key stays busy
  EXPECT_FALSE(w.Add(kTenMinutes, kT0 + 6 * kSlot - 1, 77));  // slot 5: slot 0 still inside
  EXPECT_TRUE(w.Add(kTenMinutes, kT0 + 6 * kSlot, 77));       // slot 6: slot 0 has left
  EXPECT_FALSE(w.Add(kTenMinutes, kT0 + 7 * kSlot, 78));      // slot 3 is still inside
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 7 * kSlot), 2u);
}

TEST(SlidingWindowTest, RecentSlotsDoNotAliasAcrossLongAdvances) {
  // Twelve slots of 10 s; jumps of 11 slots at a time, never a whole window: each jump forgets
  // the fingerprints more than a window old, whatever the slot numbers modulo anything.
  const WindowSpec spec{milliseconds(120'000), SlidingWindow::kMaxBuckets};
  SlidingWindow w;
  int64_t now = kT0;
  ASSERT_TRUE(w.Add(spec, now, 5));
  for (int i = 0; i < 40; ++i) {
    now += 11 * 10'000;
    ASSERT_TRUE(w.Add(spec, now, 900 + i));  // keeps the key busy
    // Counted at slot 11k (odd jumps): 11 slots later still inside, 22 later gone.
    EXPECT_EQ(w.Add(spec, now, 5), i % 2 == 1) << i;
  }
}

TEST(SlidingWindowTest, FingerprintForgottenAfterAWholeQuietWindow) {
  SlidingWindow w;
  ASSERT_TRUE(w.Add(kTenMinutes, kT0, 77));
  EXPECT_FALSE(w.Add(kTenMinutes, kT0 + 5 * kSlot, 77));
  // Nothing for a whole window: the entry starts afresh, fingerprints included.
  EXPECT_TRUE(w.Add(kTenMinutes, kT0 + 11 * kSlot, 77));
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + 11 * kSlot), 1u);
}

TEST(SlidingWindowTest, EightDistinctCyclingPasswordsCountEightTimes) {
  SlidingWindow w;
  for (int round = 0; round < 3; ++round) {
    for (uint32_t fp = 1; fp <= SlidingWindow::kRecentFingerprints; ++fp) w.Add(kTenMinutes, kT0, fp);
  }
  EXPECT_EQ(w.Count(kTenMinutes, kT0), 8u);  // every repeat is among the last 8
}

TEST(SlidingWindowTest, NineDistinctCyclingPasswordsAllCount) {
  // One more than the recent set: each repeat was pushed out before it comes back.
  SlidingWindow w;
  for (int round = 0; round < 2; ++round) {
    for (uint32_t fp = 1; fp <= 9; ++fp) EXPECT_TRUE(w.Add(kTenMinutes, kT0, fp));
  }
  EXPECT_EQ(w.Count(kTenMinutes, kT0), 18u);
}

TEST(SlidingWindowTest, RefusedRepeatDoesNotRefreshTheRecentSet) {
  SlidingWindow w;
  for (uint32_t fp = 1; fp <= 8; ++fp) w.Add(kTenMinutes, kT0, fp);
  EXPECT_FALSE(w.Add(kTenMinutes, kT0, 1));  // not counted, not re-recorded
  EXPECT_TRUE(w.Add(kTenMinutes, kT0, 9));   // pushes 1 out
  EXPECT_TRUE(w.Add(kTenMinutes, kT0, 1));
  EXPECT_EQ(w.Count(kTenMinutes, kT0), 10u);
}

TEST(SlidingWindowTest, FingerprintZeroAlwaysCounts) {
  SlidingWindow w;
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(w.Add(kTenMinutes, kT0, 0));
  EXPECT_EQ(w.Count(kTenMinutes, kT0), 20u);
}

TEST(SlidingWindowTest, SaturatesPerSlot) {
  SlidingWindow w;
  for (int i = 0; i < 70'000; ++i) w.Add(kTenMinutes, kT0, 0);
  EXPECT_EQ(w.Count(kTenMinutes, kT0), 65'535u);
  for (int i = 0; i < 70'000; ++i) w.Add(kTenMinutes, kT0 + kSlot, 0);
  EXPECT_EQ(w.Count(kTenMinutes, kT0 + kSlot), 2u * 65'535u);  // the sum does not wrap
}

TEST(SlidingWindowTest, OneBucketWindow) {
  const WindowSpec spec{milliseconds(60'000), 1};
  const int64_t t0 = 60'000 * 20'000;
  SlidingWindow w;
  w.Add(spec, t0 + 59'999, 0);
  EXPECT_EQ(w.Count(spec, t0 + 59'999), 1u);
  EXPECT_EQ(w.Count(spec, t0 + 60'000), 0u);
}

TEST(SlidingWindowTest, TwelveBucketWindow) {
  const WindowSpec spec{milliseconds(120'000), SlidingWindow::kMaxBuckets};  // 10 s slots
  SlidingWindow w;
  for (int i = 0; i < 24; ++i) w.Add(spec, kT0 + i * 10'000, 0);
  EXPECT_EQ(w.Count(spec, kT0 + 23 * 10'000), 12u);
}

}  // namespace
}  // namespace imapgate::ratelimit
