// Tests for health::NextState and friends: rise and fall thresholds, flapping, the starting
// state, the steady states that need no write, the packing, and the bounds on the policy.

#include "health/health_state.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace imapgate::health {
namespace {

// Feeds results ("+" success, "-" failure) and returns the up/down state after each.
std::string Feed(UpDownState s, const std::string& results, const HealthPolicy& p) {
  std::string out;
  for (char c : results) {
    s = NextState(s, c == '+', p);
    out += s.up ? 'U' : 'D';
  }
  return out;
}

TEST(HealthStateTest, StartsUpByDefault) {
  HealthPolicy p;
  EXPECT_TRUE(p.start_up);
  EXPECT_TRUE(InitialState(p).up);
}

TEST(HealthStateTest, StartsDownWhenConfiguredAndNeedsRiseSuccesses) {
  HealthPolicy p;
  p.start_up = false;
  p.rise = 2;
  EXPECT_FALSE(InitialState(p).up);
  EXPECT_EQ(Feed(InitialState(p), "++", p), "DU");
}

TEST(HealthStateTest, GoesDownAfterFallFailuresInARow) {
  HealthPolicy p;
  p.fall = 3;
  EXPECT_EQ(Feed(InitialState(p), "---", p), "UUD");
  p.fall = 1;
  EXPECT_EQ(Feed(InitialState(p), "-", p), "D");
}

TEST(HealthStateTest, ComesBackUpAfterRiseSuccessesInARow) {
  HealthPolicy p;
  p.rise = 2;
  p.fall = 1;
  EXPECT_EQ(Feed(InitialState(p), "-++", p), "DDU");
  p.rise = 4;
  EXPECT_EQ(Feed(InitialState(p), "-++++", p), "DDDDU");
}

TEST(HealthStateTest, ASuccessRestartsTheFailureRun) {
  HealthPolicy p;
  p.fall = 3;
  EXPECT_EQ(Feed(InitialState(p), "--+--+--", p), "UUUUUUUU");
  EXPECT_EQ(Feed(InitialState(p), "--+---", p), "UUUUUD");
}

TEST(HealthStateTest, AFailureRestartsTheSuccessRun) {
  HealthPolicy p;
  p.rise = 3;
  p.fall = 1;
  EXPECT_EQ(Feed(InitialState(p), "-++-++-+++", p), "DDDDDDDDDU");
}

TEST(HealthStateTest, AFlappingBackendDoesNotThrash) {
  HealthPolicy p;
  p.rise = 2;
  p.fall = 2;
  // Alternating results never make a run long enough to change the state, from either side.
  EXPECT_EQ(Feed(InitialState(p), "-+-+-+-+-+-+", p), "UUUUUUUUUUUU");
  UpDownState down = NextState(NextState(InitialState(p), false, p), false, p);
  ASSERT_FALSE(down.up);
  EXPECT_EQ(Feed(down, "+-+-+-+-+-+-", p), "DDDDDDDDDDDD");
}

TEST(HealthStateTest, SteadyStatesMapToThemselves) {
  HealthPolicy p;
  p.rise = 2;
  p.fall = 5;
  UpDownState s = InitialState(p);
  for (int i = 0; i < 10; ++i) s = NextState(s, true, p);
  EXPECT_EQ(NextState(s, true, p), s) << "an up backend's success must need no write";
  for (int i = 0; i < 10; ++i) s = NextState(s, false, p);
  ASSERT_FALSE(s.up);
  EXPECT_EQ(NextState(s, false, p), s) << "a down backend's failure must need no write";
  EXPECT_LE(s.streak, 5);
}

TEST(HealthStateTest, OutOfRangeThresholdsAreClampedNotTrusted) {
  HealthPolicy p;
  p.fall = 0;  // as if 1
  EXPECT_EQ(Feed(InitialState(p), "-", p), "D");
  p.fall = 1'000'000;  // as if 1000: still goes down, and the run never overflows 16 bits
  UpDownState s = InitialState(p);
  for (int i = 0; i < HealthPolicy::kMaxThreshold; ++i) s = NextState(s, false, p);
  EXPECT_FALSE(s.up);
  for (int i = 0; i < 70'000; ++i) s = NextState(s, false, p);
  EXPECT_EQ(s.streak, HealthPolicy::kMaxThreshold);
}

TEST(HealthStateTest, ValidateRefusesThresholdsOutOfBounds) {
  HealthPolicy p;
  EXPECT_TRUE(p.Validate().ok());
  p.rise = 0;
  EXPECT_FALSE(p.Validate().ok());
  EXPECT_NE(p.Validate().message().find("rise"), std::string::npos);
  p.rise = HealthPolicy::kMaxThreshold;
  EXPECT_TRUE(p.Validate().ok());
  p.fall = HealthPolicy::kMaxThreshold + 1;
  EXPECT_FALSE(p.Validate().ok());
  EXPECT_NE(p.Validate().message().find("fall"), std::string::npos);
}

TEST(HealthStateTest, PackRoundTrips) {
  for (bool up : {false, true}) {
    for (bool ok : {false, true}) {
      for (uint16_t streak : {0, 1, 7, 1000, 65535}) {
        UpDownState s{up, ok, streak};
        EXPECT_EQ(Unpack(Pack(s)), s);
      }
    }
  }
}

TEST(HealthStateTest, OutcomeNamesAreDistinctSnakeCase) {
  std::set<std::string> names;
  for (int i = 0; i < static_cast<int>(CheckOutcome::kCount); ++i) {
    std::string n = CheckOutcomeName(static_cast<CheckOutcome>(i));
    for (char c : n) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << n;
    names.insert(n);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(CheckOutcome::kCount));
  EXPECT_EQ(names.count("unknown"), 0u);
  EXPECT_STREQ(CheckOutcomeName(CheckOutcome::kOk), "ok");
  EXPECT_STREQ(CheckOutcomeName(CheckOutcome::kConnectFailed), "connect_failed");
}

}  // namespace
}  // namespace imapgate::health
