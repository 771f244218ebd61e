// The pure decisions: tarpit growth and cap, every DecideBeforeLogin / DecideAfterFailure rule.
#include "ratelimit/policy.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::ratelimit {
namespace {

using std::chrono::milliseconds;
using Kind = PreLoginDecision::Kind;

TEST(TarpitDelayTest, DoublesFromBaseToCap) {
  Policy p;  // base 1 s, cap 15 s
  EXPECT_EQ(TarpitDelay(p, 0), milliseconds(0));
  EXPECT_EQ(TarpitDelay(p, 1), milliseconds(1000));
  EXPECT_EQ(TarpitDelay(p, 2), milliseconds(2000));
  EXPECT_EQ(TarpitDelay(p, 3), milliseconds(4000));
  EXPECT_EQ(TarpitDelay(p, 4), milliseconds(8000));
  EXPECT_EQ(TarpitDelay(p, 5), milliseconds(15000));
  EXPECT_EQ(TarpitDelay(p, 6), milliseconds(15000));
}

TEST(TarpitDelayTest, HugeExcessIsTheCapWithoutOverflow) {
  Policy p;
  p.tarpit_base = milliseconds(3);
  p.tarpit_max = milliseconds(INT64_MAX / 2);
  for (uint32_t e : {62u, 63u, 64u, 65u, 1000u, UINT32_MAX}) {
    EXPECT_EQ(TarpitDelay(p, e), p.tarpit_max) << e;
  }
  EXPECT_EQ(TarpitDelay(p, 10), milliseconds(3 * 512));
}

TEST(TarpitDelayTest, ZeroBaseMeansNoDelay) {
  Policy p;
  p.tarpit_base = milliseconds(0);
  EXPECT_EQ(TarpitDelay(p, 5), milliseconds(0));
}

PreLoginFacts Facts(LoginCounts counts, bool remembered = false) {
  PreLoginFacts f;
  f.counts = counts;
  f.remembered = remembered;
  return f;
}

TEST(DecideBeforeLoginTest, CleanLoginIsAllowed) {
  const auto d = DecideBeforeLogin(Policy{}, Facts({}));
  EXPECT_EQ(d.kind, Kind::kAllow);
  EXPECT_EQ(d.reason, ActionReason::kNone);
  EXPECT_EQ(d.delay, milliseconds(0));
}

TEST(DecideBeforeLoginTest, BlockedAddressOrSubnetIsRefusedEvenIfRemembered) {
  PreLoginFacts f = Facts({}, /*remembered=*/true);
  f.blocked = BlockScope::kAddress;
  auto d = DecideBeforeLogin(Policy{}, f);
  EXPECT_EQ(d.kind, Kind::kRefuse);
  EXPECT_EQ(d.reason, ActionReason::kAddressBlocked);
  f.blocked = BlockScope::kSubnet;
  d = DecideBeforeLogin(Policy{}, f);
  EXPECT_EQ(d.kind, Kind::kRefuse);
  EXPECT_EQ(d.reason, ActionReason::kSubnetBlocked);
}

TEST(DecideBeforeLoginTest, UserUnderAttackRefusesUnknownAddresses) {
  Policy p;  // user_under_attack_after 10
  LoginCounts c;
  c.user = 9;
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c)).kind, Kind::kAllow);
  c.user = 10;
  const auto d = DecideBeforeLogin(p, Facts(c));
  EXPECT_EQ(d.kind, Kind::kRefuse);
  EXPECT_EQ(d.reason, ActionReason::kUserUnderAttack);
}

TEST(DecideBeforeLoginTest, NeverAGlobalLockOutOfAUser) {
  // The user is under heavy attack, the (user, address) pair has failures too (a mistyped
  // password on her phone) and there is a global surge: from an address where she succeeded
  // before she logs in at once.
  Policy p;
  p.global_surge_after = 100;
  LoginCounts c;
  c.user = 10'000;
  c.user_address = 7;
  c.global = 1'000'000;
  const auto d = DecideBeforeLogin(p, Facts(c, /*remembered=*/true));
  EXPECT_EQ(d.kind, Kind::kAllow);
  EXPECT_EQ(d.delay, milliseconds(0));
}

TEST(DecideBeforeLoginTest, RememberedAddressStillPaysForItsOwnFailures) {
  Policy p;  // tarpit_after 3
  LoginCounts c;
  c.address = 4;  // excess 2
  const auto d = DecideBeforeLogin(p, Facts(c, /*remembered=*/true));
  EXPECT_EQ(d.kind, Kind::kTarpit);
  EXPECT_EQ(d.reason, ActionReason::kAddressFailures);
  EXPECT_EQ(d.delay, milliseconds(2000));
}

TEST(DecideBeforeLoginTest, UserUnderAttackRuleOffAtZero) {
  Policy p;
  p.user_under_attack_after = 0;
  LoginCounts c;
  c.user = 1'000'000;
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c)).kind, Kind::kAllow);
}

TEST(DecideBeforeLoginTest, TarpitFromAddressFailures) {
  Policy p;  // tarpit_after 3
  LoginCounts c;
  c.address = 2;
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c)).kind, Kind::kAllow);
  c.address = 3;
  auto d = DecideBeforeLogin(p, Facts(c));
  EXPECT_EQ(d.kind, Kind::kTarpit);
  EXPECT_EQ(d.reason, ActionReason::kAddressFailures);
  EXPECT_EQ(d.delay, milliseconds(1000));
  c.address = 5;
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c)).delay, milliseconds(4000));
}

TEST(DecideBeforeLoginTest, TarpitFromUserAddressFailuresTakesTheWorse) {
  Policy p;
  LoginCounts c;
  c.address = 3;       // excess 1
  c.user_address = 6;  // excess 4
  const auto d = DecideBeforeLogin(p, Facts(c));
  EXPECT_EQ(d.kind, Kind::kTarpit);
  EXPECT_EQ(d.reason, ActionReason::kAddressFailures);
  EXPECT_EQ(d.delay, milliseconds(8000));
}

TEST(DecideBeforeLoginTest, RememberedSkipsTheUserAddressTarpit) {
  Policy p;
  LoginCounts c;
  c.user_address = 6;
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c, true)).kind, Kind::kAllow);
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c, false)).kind, Kind::kTarpit);
}

TEST(DecideBeforeLoginTest, TarpitOffAtZero) {
  Policy p;
  p.tarpit_after = 0;
  LoginCounts c;
  c.address = 19;
  c.user_address = 19;
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c)).kind, Kind::kAllow);
}

TEST(DecideBeforeLoginTest, GlobalSurgeGivesTheBaseTarpit) {
  Policy p;
  p.global_surge_after = 1000;
  LoginCounts c;
  c.global = 999;
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c)).kind, Kind::kAllow);
  c.global = 1000;
  auto d = DecideBeforeLogin(p, Facts(c));
  EXPECT_EQ(d.kind, Kind::kTarpit);
  EXPECT_EQ(d.reason, ActionReason::kGlobalSurge);
  EXPECT_EQ(d.delay, p.tarpit_base);
  // A remembered address is spared.
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c, true)).kind, Kind::kAllow);
  // A longer address tarpit wins, with its reason.
  c.address = 5;
  d = DecideBeforeLogin(p, Facts(c));
  EXPECT_EQ(d.reason, ActionReason::kAddressFailures);
  EXPECT_EQ(d.delay, milliseconds(4000));
}

TEST(DecideBeforeLoginTest, GlobalSurgeOffAtZero) {
  Policy p;
  ASSERT_EQ(p.global_surge_after, 0u);  // the default
  LoginCounts c;
  c.global = UINT32_MAX;
  EXPECT_EQ(DecideBeforeLogin(p, Facts(c)).kind, Kind::kAllow);
}

TEST(DecideAfterFailureTest, AddressFailuresBlockTheAddress) {
  Policy p;  // block_address_after 20
  LoginCounts c;
  c.address = 19;
  EXPECT_FALSE(DecideAfterFailure(p, c));
  c.address = 20;
  auto order = DecideAfterFailure(p, c);
  ASSERT_TRUE(order);
  EXPECT_EQ(order->scope, BlockScope::kAddress);
  EXPECT_EQ(order->cause, BlockCause::kAddressFailures);
}

TEST(DecideAfterFailureTest, SprayingBlocksTheAddress) {
  Policy p;  // block_spraying_after 10
  LoginCounts c;
  c.users_tried = 9;
  EXPECT_FALSE(DecideAfterFailure(p, c));
  c.users_tried = 10;
  auto order = DecideAfterFailure(p, c);
  ASSERT_TRUE(order);
  EXPECT_EQ(order->scope, BlockScope::kAddress);
  EXPECT_EQ(order->cause, BlockCause::kSpraying);
}

TEST(DecideAfterFailureTest, SubnetFailuresBlockTheSubnet) {
  Policy p;  // block_subnet_after 100
  LoginCounts c;
  c.subnet = 99;
  EXPECT_FALSE(DecideAfterFailure(p, c));
  c.subnet = 100;
  auto order = DecideAfterFailure(p, c);
  ASSERT_TRUE(order);
  EXPECT_EQ(order->scope, BlockScope::kSubnet);
  EXPECT_EQ(order->cause, BlockCause::kSubnetFailures);
}

TEST(DecideAfterFailureTest, AddressRulesComeBeforeTheSubnet) {
  Policy p;
  LoginCounts c;
  c.subnet = 500;
  c.users_tried = 10;
  EXPECT_EQ(DecideAfterFailure(p, c)->cause, BlockCause::kSpraying);
  c.address = 20;
  EXPECT_EQ(DecideAfterFailure(p, c)->cause, BlockCause::kAddressFailures);
}

TEST(DecideAfterFailureTest, ZeroDisablesEachRule) {
  Policy p;
  p.block_address_after = 0;
  p.block_spraying_after = 0;
  p.block_subnet_after = 0;
  LoginCounts c;
  c.address = c.subnet = c.users_tried = UINT32_MAX;
  EXPECT_FALSE(DecideAfterFailure(p, c));
  // Other counts never block.
  Policy q;
  LoginCounts d;
  d.user = d.user_address = d.global = UINT32_MAX;
  EXPECT_FALSE(DecideAfterFailure(q, d));
}

TEST(PolicyNamesTest, SnakeCaseLabels) {
  EXPECT_STREQ(BlockScopeName(BlockScope::kAddress), "address");
  EXPECT_STREQ(BlockScopeName(BlockScope::kSubnet), "subnet");
  EXPECT_STREQ(ActionReasonName(ActionReason::kNone), "none");
  EXPECT_STREQ(ActionReasonName(ActionReason::kAddressBlocked), "address_blocked");
  EXPECT_STREQ(ActionReasonName(ActionReason::kSubnetBlocked), "subnet_blocked");
  EXPECT_STREQ(ActionReasonName(ActionReason::kUserUnderAttack), "user_under_attack");
  EXPECT_STREQ(ActionReasonName(ActionReason::kAddressFailures), "address_failures");
  EXPECT_STREQ(ActionReasonName(ActionReason::kGlobalSurge), "global_surge");
  EXPECT_STREQ(BlockCauseName(BlockCause::kAddressFailures), "address_failures");
  EXPECT_STREQ(BlockCauseName(BlockCause::kSpraying), "spraying");
  EXPECT_STREQ(BlockCauseName(BlockCause::kSubnetFailures), "subnet_failures");
  EXPECT_STREQ(BlockCauseName(BlockCause::kOperator), "operator");
}

}  // namespace
}  // namespace imapgate::ratelimit
