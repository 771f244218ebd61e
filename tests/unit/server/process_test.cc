// Tests for server/process.h: the session cap from the descriptor limit, and the decision to
// keep or switch the process identity (the system calls themselves are covered by the
// integration test that reads /proc/PID/status).

#include "server/process.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace imapgate::server {
namespace {

TEST(SessionCapTest, TwoDescriptorsPerSessionAfterTheReserve) {
  // 1 worker: reserve 32 + 4 = 36; (1024 - 36) / 2 = 494.
  EXPECT_EQ(SessionCapFromDescriptors(1024, 1, 100000), 494u);
  // 4 workers: reserve 48; (1024 - 48) / 2 / 4 = 122.
  EXPECT_EQ(SessionCapFromDescriptors(1024, 4, 100000), 122u);
  // The configured cap wins when it is lower.
  EXPECT_EQ(SessionCapFromDescriptors(1048576, 2, 5000), 5000u);
  // prlimit --nofile=64:64 with one worker: (64 - 36) / 2 = 14 sessions.
  EXPECT_EQ(SessionCapFromDescriptors(64, 1, 100000), 14u);
}

TEST(SessionCapTest, TooFewDescriptorsGiveZero) {
  EXPECT_EQ(SessionCapFromDescriptors(36, 1, 100000), 0u);
  EXPECT_EQ(SessionCapFromDescriptors(20, 1, 100000), 0u);
  EXPECT_EQ(SessionCapFromDescriptors(64, 16, 100000), 0u);
}

TEST(SessionsLimitTest, WorkersTimesTheCapOrTheAbuseTotalWhenLower) {
  EXPECT_EQ(SessionsLimit(2, 5000, 0), 10000u);      // no abuse total: the workers' caps
  EXPECT_EQ(SessionsLimit(2, 5000, 300), 300u);      // a lower total wins
  EXPECT_EQ(SessionsLimit(2, 5000, 20000), 10000u);  // a higher one does not
  EXPECT_EQ(SessionsLimit(0, 7, 0), 7u);             // at least one worker
}

Identity Nobody() { return Identity{"nobody", "nogroup", 65534, 65534}; }
Identity Root() { return Identity{"root", "root", 0, 0}; }

TEST(DecideIdentityTest, RootWithAUserSwitches) {
  config::ProcessConfig p{"nobody", "", false};
  const Identity target = Nobody();
  std::string warning;
  auto a = DecideIdentity(p, 0, &target, &warning);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(*a, IdentityAction::kSwitch);
  EXPECT_TRUE(warning.empty());
}

TEST(DecideIdentityTest, RootWithoutAUserIsRefusedUnlessAllowed) {
  config::ProcessConfig p;
  std::string warning;
  auto refused = DecideIdentity(p, 0, nullptr, &warning);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("refusing to serve as root"), std::string::npos);
  EXPECT_NE(refused.status().message().find("allow_root: true"), std::string::npos);
  p.allow_root = true;
  auto allowed = DecideIdentity(p, 0, nullptr, &warning);
  ASSERT_TRUE(allowed.ok());
  EXPECT_EQ(*allowed, IdentityAction::kKeep);
}

TEST(DecideIdentityTest, UserRootCountsAsRoot) {
  config::ProcessConfig p{"root", "", false};
  const Identity target = Root();
  std::string warning;
  EXPECT_FALSE(DecideIdentity(p, 0, &target, &warning).ok());
  p.allow_root = true;
  auto a = DecideIdentity(p, 0, &target, &warning);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, IdentityAction::kSwitch);
}

TEST(DecideIdentityTest, NotRootKeepsItsIdentityAndWarnsAboutAUser) {
  config::ProcessConfig p;
  std::string warning;
  auto plain = DecideIdentity(p, 1000, nullptr, &warning);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(*plain, IdentityAction::kKeep);
  EXPECT_TRUE(warning.empty());
  p.user = "nobody";
  const Identity target = Nobody();
  auto with_user = DecideIdentity(p, 1000, &target, &warning);
  ASSERT_TRUE(with_user.ok());
  EXPECT_EQ(*with_user, IdentityAction::kKeep);
  EXPECT_NE(warning.find("ignored"), std::string::npos) << warning;
  // Already that user: nothing to say.
  auto same = DecideIdentity(p, 65534, &target, &warning);
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(warning.empty()) << warning;
}

TEST(ResolveIdentityTest, KnownAndUnknownAccounts) {
  auto root = ResolveIdentity(config::ProcessConfig{"root", "", false});
  ASSERT_TRUE(root.ok()) << root.status().message();
  EXPECT_EQ(root->uid, 0u);
  EXPECT_EQ(root->gid, 0u);
  auto missing = ResolveIdentity(config::ProcessConfig{"no-such-user-imapgate", "", false});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no-such-user-imapgate"), std::string::npos);
  auto bad_group = ResolveIdentity(config::ProcessConfig{"root", "no-such-group-imapgate", false});
  ASSERT_FALSE(bad_group.ok());
  EXPECT_NE(bad_group.status().message().find("group"), std::string::npos);
}

}  // namespace
}  // namespace imapgate::server
