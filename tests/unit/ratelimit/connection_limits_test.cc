// ConnectionLimits: every limit, both-or-none acquisition, release on destruction and move,
// reload, the accept rate and its LRU bound, and concurrent use.
#include "ratelimit/connection_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace imapgate::ratelimit {
namespace {

ConnectionLimitsConfig Config() {
  ConnectionLimitsConfig c;
  c.max_per_address_preauth = 2;
  c.max_per_user_address = 2;
  c.max_per_user = 3;
  c.max_total = 0;
  return c;
}

TEST(ConnectionLimitsTest, PerAddressBeforeLogin) {
  ConnectionLimits limits(Config());
  auto a = limits.TryAcquirePreauth("192.0.2.7");
  auto b = limits.TryAcquirePreauth("192.0.2.7");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_STREQ(a.refused_by, "");
  auto c = limits.TryAcquirePreauth("192.0.2.7");
  EXPECT_FALSE(c.ok());
  EXPECT_FALSE(c.total.held());  // none: the total was given back
  EXPECT_FALSE(c.address.held());
  EXPECT_STREQ(c.refused_by, "per_address");
  EXPECT_EQ(limits.address_count("192.0.2.7"), 2u);
  EXPECT_EQ(limits.total(), 2u);
  EXPECT_TRUE(limits.TryAcquirePreauth("192.0.2.8").ok());  // another address is not limited
}

TEST(ConnectionLimitsTest, TotalLimit) {
  ConnectionLimitsConfig cfg = Config();
  cfg.max_total = 3;
  ConnectionLimits limits(cfg);
  std::vector<ConnectionLimits::PreauthSlots> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(limits.TryAcquirePreauth("10.0.0." + std::to_string(i)));
    ASSERT_TRUE(held.back().ok());
  }
  auto refused = limits.TryAcquirePreauth("10.0.0.99");
  EXPECT_FALSE(refused.ok());
  EXPECT_STREQ(refused.refused_by, "total");
  EXPECT_EQ(limits.address_count("10.0.0.99"), 0u);
  EXPECT_EQ(limits.total(), 3u);
  held.pop_back();
  EXPECT_EQ(limits.total(), 2u);
  EXPECT_TRUE(limits.TryAcquirePreauth("10.0.0.99").ok());
}

TEST(ConnectionLimitsTest, TotalOnlySlotsShareTheTotalWithPreauthSlots) {
  ConnectionLimitsConfig cfg = Config();
  cfg.max_total = 3;
  ConnectionLimits limits(cfg);
  ConnectionSlot a = limits.TryAcquireTotal();
  ConnectionSlot b = limits.TryAcquireTotal();
  EXPECT_TRUE(a.held());
  EXPECT_TRUE(b.held());
  auto c = limits.TryAcquirePreauth("10.0.0.1");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(limits.TryAcquireTotal().held());  // the total is full, whoever holds it
  EXPECT_STREQ(limits.TryAcquirePreauth("10.0.0.2").refused_by, "total");
  EXPECT_EQ(limits.total(), 3u);
  a.Release();
  EXPECT_EQ(limits.total(), 2u);
  EXPECT_TRUE(limits.TryAcquireTotal().held());  // a temporary: released at once
  EXPECT_EQ(limits.total(), 2u);
}

TEST(ConnectionLimitsTest, SlotsReleaseOnDestructionAndEntriesGoAtZero) {
  ConnectionLimits limits(Config());
  {
    auto a = limits.TryAcquirePreauth("192.0.2.7");
    auto s = limits.TryAcquireSession("alice", "192.0.2.7");
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(limits.total(), 1u);
    EXPECT_EQ(limits.user_count("alice"), 1u);
    EXPECT_EQ(limits.user_address_count("alice", "192.0.2.7"), 1u);
  }
  EXPECT_EQ(limits.total(), 0u);
  EXPECT_EQ(limits.address_count("192.0.2.7"), 0u);
  EXPECT_EQ(limits.user_count("alice"), 0u);
  EXPECT_EQ(limits.user_address_count("alice", "192.0.2.7"), 0u);
}

TEST(ConnectionLimitsTest, ReleaseIsIdempotent) {
  ConnectionLimits limits(Config());
  auto a = limits.TryAcquirePreauth("192.0.2.7");
  auto b = limits.TryAcquirePreauth("192.0.2.7");
  a.address.Release();
  a.address.Release();
  EXPECT_FALSE(a.address.held());
  EXPECT_EQ(limits.address_count("192.0.2.7"), 1u);  // b still holds one
  a.total.Release();
  a.total.Release();
  EXPECT_EQ(limits.total(), 1u);
}

TEST(ConnectionLimitsTest, SlotsMove) {
  ConnectionLimits limits(Config());
  ConnectionSlot kept;
  EXPECT_FALSE(kept.held());
  {
    auto a = limits.TryAcquirePreauth("192.0.2.7");
    kept = std::move(a.address);
    EXPECT_FALSE(a.address.held());  // NOLINT(bugprone-use-after-move): the moved-from state
    EXPECT_TRUE(kept.held());
    ConnectionSlot constructed(std::move(a.total));
    EXPECT_TRUE(constructed.held());
    EXPECT_EQ(limits.total(), 1u);
  }
  EXPECT_EQ(limits.total(), 0u);  // `constructed` released it
  EXPECT_EQ(limits.address_count("192.0.2.7"), 1u);  // `kept` still holds
  // Move-assigning over a held slot releases the old count first.
  auto b = limits.TryAcquirePreauth("192.0.2.8");
  kept = std::move(b.address);
  EXPECT_EQ(limits.address_count("192.0.2.7"), 0u);
  EXPECT_EQ(limits.address_count("192.0.2.8"), 1u);
  kept = ConnectionSlot();
  EXPECT_EQ(limits.address_count("192.0.2.8"), 0u);
}

TEST(ConnectionLimitsTest, PerUserAndPerUserAddress) {
  ConnectionLimits limits(Config());  // per (user, address) 2, per user 3
  auto s1 = limits.TryAcquireSession("alice", "192.0.2.7");
  auto s2 = limits.TryAcquireSession("alice", "192.0.2.7");
  ASSERT_TRUE(s1.ok());
  ASSERT_TRUE(s2.ok());
  auto s3 = limits.TryAcquireSession("alice", "192.0.2.7");
  EXPECT_FALSE(s3.ok());
  EXPECT_STREQ(s3.refused_by, "per_user_address");
  EXPECT_FALSE(s3.user.held());  // both or none
  EXPECT_EQ(limits.user_count("alice"), 2u);
  auto s4 = limits.TryAcquireSession("alice", "192.0.2.8");
  ASSERT_TRUE(s4.ok());
  auto s5 = limits.TryAcquireSession("alice", "192.0.2.9");
  EXPECT_FALSE(s5.ok());
  EXPECT_STREQ(s5.refused_by, "per_user");
  EXPECT_EQ(limits.user_address_count("alice", "192.0.2.9"), 0u);
  EXPECT_TRUE(limits.TryAcquireSession("bob", "192.0.2.7").ok());
}

TEST(ConnectionLimitsTest, PairKeysDoNotCollide) {
  ConnectionLimitsConfig cfg = Config();
  cfg.max_per_user_address = 1;
  cfg.max_per_user = 0;
  ConnectionLimits limits(cfg);
  auto a = limits.TryAcquireSession("ab", "c");
  auto b = limits.TryAcquireSession("a", "bc");
  EXPECT_TRUE(a.ok());
  EXPECT_TRUE(b.ok());
}

TEST(ConnectionLimitsTest, ZeroMeansUnlimited) {
  ConnectionLimitsConfig cfg;
  cfg.max_per_address_preauth = 0;
  cfg.max_per_user_address = 0;
  cfg.max_per_user = 0;
  cfg.max_total = 0;
  ConnectionLimits limits(cfg);
  std::vector<ConnectionLimits::PreauthSlots> pre;
  std::vector<ConnectionLimits::SessionSlots> sessions;
  for (int i = 0; i < 500; ++i) {
    pre.push_back(limits.TryAcquirePreauth("192.0.2.7"));
    sessions.push_back(limits.TryAcquireSession("alice", "192.0.2.7"));
    ASSERT_TRUE(pre.back().ok());
    ASSERT_TRUE(sessions.back().ok());
  }
  EXPECT_EQ(limits.total(), 500u);
  EXPECT_EQ(limits.user_address_count("alice", "192.0.2.7"), 500u);
}

TEST(ConnectionLimitsTest, SetConfigAppliesToNewSlotsOnly) {
  ConnectionLimits limits(Config());
  auto a = limits.TryAcquirePreauth("192.0.2.7");
  auto b = limits.TryAcquirePreauth("192.0.2.7");
  ConnectionLimitsConfig tighter = Config();
  tighter.max_per_address_preauth = 1;
  limits.SetConfig(tighter);
  EXPECT_EQ(limits.address_count("192.0.2.7"), 2u);  // held slots keep counting
  EXPECT_FALSE(limits.TryAcquirePreauth("192.0.2.7").ok());
  a = {};
  EXPECT_FALSE(limits.TryAcquirePreauth("192.0.2.7").ok());  // 1 held, limit 1
  b = {};
  EXPECT_TRUE(limits.TryAcquirePreauth("192.0.2.7").ok());
  ConnectionLimitsConfig looser = Config();
  looser.max_per_address_preauth = 10;
  limits.SetConfig(looser);
  std::vector<ConnectionLimits::PreauthSlots> held;
  for (int i = 0; i < 10; ++i) held.push_back(limits.TryAcquirePreauth("192.0.2.9"));
  for (const auto& h : held) EXPECT_TRUE(h.ok());
}

TEST(ConnectionLimitsTest, AcceptRatePerAddressSlides) {
  ConnectionLimitsConfig cfg = Config();
  cfg.accepts_per_minute = 5;
  ConnectionLimits limits(cfg);
  const int64_t t0 = 1'000'000'000;  // on a 10 s slot boundary
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limits.TryAccept("192.0.2.7", t0 + i * 1000));
  EXPECT_FALSE(limits.TryAccept("192.0.2.7", t0 + 5000));  // the 6th in a minute
  EXPECT_FALSE(limits.TryAccept("192.0.2.7", t0 + 9000));  // refused ones still count
  EXPECT_TRUE(limits.TryAccept("192.0.2.8", t0 + 9000));   // per address
  // A minute later the first slot (all seven) has slid out.
  EXPECT_TRUE(limits.TryAccept("192.0.2.7", t0 + 60'000));
}

TEST(ConnectionLimitsTest, AcceptRateOffAtZero) {
  ConnectionLimits limits(Config());  // accepts_per_minute 0
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limits.TryAccept("192.0.2.7", 1000 + i));
}

TEST(ConnectionLimitsTest, AcceptRateAddressesAreBounded) {
  ConnectionLimitsConfig cfg = Config();
  cfg.accepts_per_minute = 1;
  cfg.max_rate_addresses = 10;
  ConnectionLimits limits(cfg);
  const int64_t t = 1'000'000'000;
  EXPECT_TRUE(limits.TryAccept("192.0.2.1", t));
  EXPECT_FALSE(limits.TryAccept("192.0.2.1", t));
  // Ten other addresses push the first out of the bounded map: it starts afresh (the bound wins
  // over memory, never the other way).
  for (int i = 0; i < 10; ++i) limits.TryAccept("198.51.100." + std::to_string(i), t);
  EXPECT_TRUE(limits.TryAccept("192.0.2.1", t));
  // Recently used addresses stay.
  for (int i = 0; i < 9; ++i) EXPECT_FALSE(limits.TryAccept("198.51.100." + std::to_string(i + 1), t));
}

TEST(ConnectionLimitsTest, ConcurrentAcquireNeverPassesTheLimits) {
  ConnectionLimitsConfig cfg;
  cfg.max_per_address_preauth = 5;
  cfg.max_total = 12;
  cfg.max_per_user = 7;
  cfg.max_per_user_address = 0;
  ConnectionLimits limits(cfg);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&limits, &over, &cfg, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string address = "10.0.0." + std::to_string((t + i) % 3);
        auto pre = limits.TryAcquirePreauth(address);
        auto session = limits.TryAcquireSession("alice", address);
        if (limits.total() > cfg.max_total || limits.address_count(address) > 5 ||
            limits.user_count("alice") > cfg.max_per_user) {
          over = true;
        }
        if (i % 3 == 0) pre = {};  // release some early, on this thread
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(over.load());
  EXPECT_EQ(limits.total(), 0u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limits.address_count("10.0.0." + std::to_string(i)), 0u);
  EXPECT_EQ(limits.user_count("alice"), 0u);
}

TEST(ConnectionLimitsTest, SlotReleasedOnAnotherThread) {
  ConnectionLimits limits(Config());
  auto a = limits.TryAcquirePreauth("192.0.2.7");
  std::thread([slot = std::move(a.address)]() mutable { slot.Release(); }).join();
  EXPECT_EQ(limits.address_count("192.0.2.7"), 0u);
}

}  // namespace
}  // namespace imapgate::ratelimit
