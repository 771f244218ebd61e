// RedisStore, RedisClient and FleetBus against a real redis-server (tests/redis/redis_server.h):
// two stores (two instances of the fleet, each with its own connections) on one loop share
// windows, blocks and events; Redis's clock drives the windows; an outage answers ok = false at
// once with a bounded number of commands in flight; a restart reconnects and sharing resumes.
#include "ratelimit/redis_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/time_source.h"
#include "net/event_loop.h"
#include "net/timer.h"
#include "ratelimit/fleet_event.h"
#include "ratelimit/redis_client.h"
#include "redis_server.h"

namespace imapgate::ratelimit {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class RedisStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(net::InitEventThreading().ok());
    auto loop = net::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = std::move(*loop);
    ASSERT_TRUE(server_.Start(ServerArgs())) << "redis-server did not start";
  }
  virtual std::vector<std::string> ServerArgs() const { return {}; }

  // Runs the loop until cond() holds or `timeout` passes; whether it holds.
  bool RunUntil(const std::function<bool()>& cond, milliseconds timeout = milliseconds(3000)) {
    if (cond()) return true;
    const Clock::time_point deadline = Clock::now() + timeout;
    bool held = false;
    net::Timer* raw = nullptr;
    auto timer = net::Timer::Create(loop_.get(), [&] {
      if (cond()) {
        held = true;
        loop_->Stop();
      } else if (Clock::now() >= deadline) {
        loop_->Stop();
      } else {
        raw->Arm(milliseconds(2));
      }
    });
    if (!timer.ok()) return false;
    raw = timer->get();
    raw->Arm(milliseconds(1));
    loop_->Run();
    return held;
  }
  void RunFor(milliseconds d) {
    const Clock::time_point end = Clock::now() + d;
    RunUntil([&] { return Clock::now() >= end; }, d + milliseconds(100));
  }

  RedisClientOptions ClientOptions() const {
    RedisClientOptions o;
    o.port = server_.port();
    return o;
  }

  std::unique_ptr<RedisStore> NewStore(const std::string& id, const TimeSource* time,
                                       const Policy& policy = Policy(),
                                       std::optional<RedisClientOptions> client = std::nullopt) {
    RedisStoreOptions options;
    options.redis = client.value_or(ClientOptions());
    options.redis.log_name = id;
    options.instance_id = id;
    options.prefix = "test:";
    auto store = RedisStore::Create(loop_.get(), policy, options, time);
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (!store.ok()) return nullptr;
    std::unique_ptr<RedisStore> s = std::move(*store);
    RedisStore* raw = s.get();
    // Connected, subscribed, and the scripts loaded and the mirror read (nothing in flight).
    EXPECT_TRUE(RunUntil([raw] { return raw->connected() && raw->bus()->subscribed() && raw->in_flight() == 0; }));
    return s;
  }

  std::optional<PreLoginAnswer> CheckNow(RedisStore* store, const LoginKeys& keys) {
    std::optional<PreLoginAnswer> answer;
    store->Check(keys, [&](PreLoginAnswer a) { answer = a; });
    EXPECT_TRUE(RunUntil([&] { return answer.has_value(); }));
    return answer;
  }
  std::optional<FailureAnswer> FailNow(RedisStore* store, const LoginKeys& keys, uint32_t password_fp,
                                       uint32_t user_fp = 77) {
    std::optional<FailureAnswer> answer;
    store->RecordFailure(keys, FailureEvent{password_fp, user_fp}, [&](FailureAnswer a) { answer = a; });
    EXPECT_TRUE(RunUntil([&] { return answer.has_value(); }));
    return answer;
  }

  static LoginKeys Keys(const std::string& address, const std::string& user = "alice@demo.test") {
    return LoginKeys{address, address.substr(0, address.rfind('.')) + ".0/24", user};
  }

  testing::RedisServerProcess server_;
  std::unique_ptr<net::EventLoop> loop_;
  ManualTimeSource time_a_;
  ManualTimeSource time_b_;
};

TEST_F(RedisStoreTest, TwoInstancesShareOneWindow) {
  auto a = NewStore("inst-a", &time_a_);
  auto b = NewStore("inst-b", &time_b_);
  ASSERT_TRUE(a && b);
  const LoginKeys keys = Keys("192.0.2.7");
  for (uint32_t fp = 1; fp <= 3; ++fp) {
    auto r = FailNow(a.get(), keys, fp);
    ASSERT_TRUE(r && r->ok);
    EXPECT_EQ(r->counts.address, fp);
  }
  auto check = CheckNow(b.get(), keys);
  ASSERT_TRUE(check && check->ok);
  EXPECT_EQ(check->facts.counts.address, 3u);
  EXPECT_EQ(check->facts.counts.subnet, 3u);
  EXPECT_EQ(check->facts.counts.user, 3u);
  EXPECT_EQ(check->facts.counts.user_address, 3u);
  EXPECT_EQ(check->facts.counts.global, 3u);
  EXPECT_EQ(check->facts.counts.users_tried, 1u);  // one user fingerprint
  EXPECT_FALSE(check->facts.blocked.has_value());
  EXPECT_FALSE(check->facts.remembered);
  // Another address of the subnet shares the subnet's window, not the address's.
  auto other = CheckNow(b.get(), Keys("192.0.2.8"));
  ASSERT_TRUE(other && other->ok);
  EXPECT_EQ(other->facts.counts.address, 0u);
  EXPECT_EQ(other->facts.counts.subnet, 3u);
  EXPECT_EQ(other->facts.counts.user, 3u);
  EXPECT_EQ(other->facts.counts.user_address, 0u);
}

TEST_F(RedisStoreTest, DistinctFingerprintsCountRepeatsDoNot) {
  auto a = NewStore("inst-a", &time_a_);
  ASSERT_TRUE(a);
  const LoginKeys keys = Keys("198.51.100.4");
  EXPECT_EQ(FailNow(a.get(), keys, 7)->counts.address, 1u);
  EXPECT_EQ(FailNow(a.get(), keys, 7)->counts.address, 1u);  // a stale password retried
  EXPECT_EQ(FailNow(a.get(), keys, 8)->counts.address, 2u);
  EXPECT_EQ(FailNow(a.get(), keys, 7)->counts.address, 2u);
  // Users tried counts user fingerprints.
  EXPECT_EQ(FailNow(a.get(), keys, 9, 1001)->counts.users_tried, 2u);
  EXPECT_EQ(FailNow(a.get(), keys, 10, 1001)->counts.users_tried, 2u);
  // Only the last 8 counted fingerprints are remembered: 7 falls out after 8 newer ones.
  const LoginKeys fresh = Keys("198.51.100.5", "bob@demo.test");
  for (uint32_t fp = 101; fp <= 109; ++fp) EXPECT_EQ(FailNow(a.get(), fresh, fp)->counts.address, fp - 100);
  EXPECT_EQ(FailNow(a.get(), fresh, 109)->counts.address, 9u);  // among the last 8
  EXPECT_EQ(FailNow(a.get(), fresh, 102)->counts.address, 9u);  // among the last 8
  EXPECT_EQ(FailNow(a.get(), fresh, 101)->counts.address, 10u); // forgotten: counted again
  // Fingerprint 0 always counts.
  const LoginKeys zero = Keys("198.51.100.6", "carol@demo.test");
  EXPECT_EQ(FailNow(a.get(), zero, 0)->counts.address, 1u);
  EXPECT_EQ(FailNow(a.get(), zero, 0)->counts.address, 2u);
}

TEST_F(RedisStoreTest, RedisClockDrivesExpiry) {
  Policy policy;
  policy.window.length = milliseconds(2000);
  policy.window.buckets = 2;
  // The stores' own clocks never move: only Redis's clock can expire the window.
  auto a = NewStore("inst-a", &time_a_, policy);
  auto b = NewStore("inst-b", &time_b_, policy);
  ASSERT_TRUE(a && b);
  const LoginKeys keys = Keys("203.0.113.9");
  ASSERT_EQ(FailNow(a.get(), keys, 1)->counts.address, 1u);
  const Clock::time_point recorded = Clock::now();
  ASSERT_EQ(FailNow(a.get(), keys, 2)->counts.address, 2u);
  RunFor(milliseconds(700) - std::chrono::duration_cast<milliseconds>(Clock::now() - recorded));
  auto early = CheckNow(b.get(), keys);
  ASSERT_TRUE(early && early->ok);
  EXPECT_EQ(early->facts.counts.address, 2u);  // less than a slot (1 s) later: still counted
  // Within the window's length (plus scheduling slack) both are gone, and so is the key.
  bool gone = false;
  while (!gone && Clock::now() - recorded < milliseconds(2500)) {
    auto c = CheckNow(b.get(), keys);
    gone = c && c->ok && c->facts.counts.address == 0;
    if (!gone) RunFor(milliseconds(20));
  }
  EXPECT_TRUE(gone);
  EXPECT_LE(Clock::now() - recorded, milliseconds(2400));
  auto raw = RedisClient::Create(loop_.get(), ClientOptions());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(RunUntil([&] { return (*raw)->connected(); }));
  std::optional<int64_t> exists;
  (*raw)->Command({"EXISTS", a->WindowKey("a", keys.address)}, [&](StatusOr<RedisReply> r) {
    exists = r.ok() ? r->integer : -1;
  });
  ASSERT_TRUE(RunUntil([&] { return exists.has_value(); }));
  EXPECT_EQ(*exists, 0) << "PEXPIRE should have removed the window key";
}

TEST_F(RedisStoreTest, BlockReachesTheOtherInstanceThroughTheBusAndExpires) {
  auto a = NewStore("inst-a", &time_a_);
  auto b = NewStore("inst-b", &time_b_);
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(b->BlockedNow("192.0.2.7", "192.0.2.0/24").has_value());
  a->Block(BlockScope::kAddress, "192.0.2.7", BlockCause::kAddressFailures, milliseconds(600));
  EXPECT_EQ(a->BlockedNow("192.0.2.7", "192.0.2.0/24"), BlockScope::kAddress);  // at once, locally
  ASSERT_TRUE(RunUntil([&] { return b->BlockedNow("192.0.2.7", "192.0.2.0/24").has_value(); }));
  EXPECT_EQ(b->bus()->received(), 1u);
  EXPECT_EQ(b->BlockedNow("192.0.2.7", "192.0.2.0/24"), BlockScope::kAddress);
  EXPECT_FALSE(b->BlockedNow("192.0.2.8", "192.0.2.0/24").has_value());
  auto check = CheckNow(b.get(), Keys("192.0.2.7"));
  ASSERT_TRUE(check && check->ok);
  EXPECT_EQ(check->facts.blocked, BlockScope::kAddress);
  // B's mirror expires by B's clock ...
  time_b_.Advance(milliseconds(601));
  EXPECT_FALSE(b->BlockedNow("192.0.2.7", "192.0.2.0/24").has_value());
  // ... and Redis's key by Redis's.
  bool lifted = false;
  for (const Clock::time_point start = Clock::now(); !lifted && Clock::now() - start < milliseconds(2000);) {
    auto c = CheckNow(b.get(), Keys("192.0.2.7"));
    lifted = c && c->ok && !c->facts.blocked.has_value();
    if (!lifted) RunFor(milliseconds(20));
  }
  EXPECT_TRUE(lifted);
  // A subnet block covers the subnet's addresses.
  a->Block(BlockScope::kSubnet, "192.0.2.0/24", BlockCause::kSubnetFailures, milliseconds(60000));
  ASSERT_TRUE(RunUntil([&] { return b->BlockedNow("192.0.2.99", "192.0.2.0/24").has_value(); }));
  EXPECT_EQ(b->BlockedNow("192.0.2.99", "192.0.2.0/24"), BlockScope::kSubnet);
  EXPECT_EQ(CheckNow(b.get(), Keys("192.0.2.99"))->facts.blocked, BlockScope::kSubnet);
}

TEST_F(RedisStoreTest, UnblockLiftsTheBlockEverywhere) {
  auto a = NewStore("inst-a", &time_a_);
  auto b = NewStore("inst-b", &time_b_);
  ASSERT_TRUE(a && b);
  a->Block(BlockScope::kSubnet, "198.51.100.0/24", BlockCause::kSubnetFailures, milliseconds(60000));
  ASSERT_TRUE(RunUntil([&] { return b->BlockedNow("198.51.100.1", "198.51.100.0/24").has_value(); }));
  std::optional<bool> lifted;
  b->Unblock(BlockScope::kSubnet, "198.51.100.0/24", [&](bool had) { lifted = had; });
  EXPECT_FALSE(b->BlockedNow("198.51.100.1", "198.51.100.0/24").has_value());  // at once, locally
  ASSERT_TRUE(RunUntil([&] { return lifted.has_value(); }));
  EXPECT_TRUE(*lifted);
  EXPECT_TRUE(RunUntil([&] { return !a->BlockedNow("198.51.100.1", "198.51.100.0/24").has_value(); }));
  EXPECT_FALSE(CheckNow(a.get(), Keys("198.51.100.1"))->facts.blocked.has_value());
  lifted.reset();
  b->Unblock(BlockScope::kSubnet, "198.51.100.0/24", [&](bool had) { lifted = had; });
  ASSERT_TRUE(RunUntil([&] { return lifted.has_value(); }));
  EXPECT_FALSE(*lifted);  // nothing left to lift
}

TEST_F(RedisStoreTest, ListBlocksAndReports) {
  auto a = NewStore("inst-a", &time_a_);
  auto b = NewStore("inst-b", &time_b_);
  ASSERT_TRUE(a && b);
  a->Block(BlockScope::kAddress, "192.0.2.7", BlockCause::kAddressFailures, milliseconds(60000));
  a->Block(BlockScope::kAddress, "2001:db8::1", BlockCause::kSpraying, milliseconds(50000));
  a->Block(BlockScope::kSubnet, "203.0.113.0/24", BlockCause::kOperator, milliseconds(40000));
  // Redis orders commands per connection only: wait until it has run a's blocks before b lists.
  ASSERT_TRUE(RunUntil([&] { return a->in_flight() == 0; }));
  std::optional<std::vector<BlockEntry>> listed;
  b->ListBlocks(10, [&](bool ok, std::vector<BlockEntry> e) {
    EXPECT_TRUE(ok);
    listed = std::move(e);
  });
  ASSERT_TRUE(RunUntil([&] { return listed.has_value(); }));
  ASSERT_EQ(listed->size(), 3u);
  // Ordered by expiry, soonest first.
  EXPECT_EQ((*listed)[0].scope, BlockScope::kSubnet);
  EXPECT_EQ((*listed)[0].key, "203.0.113.0/24");
  EXPECT_EQ((*listed)[0].cause, BlockCause::kOperator);
  EXPECT_EQ((*listed)[1].key, "2001:db8::1");
  EXPECT_EQ((*listed)[1].cause, BlockCause::kSpraying);
  EXPECT_EQ((*listed)[2].key, "192.0.2.7");
  EXPECT_EQ((*listed)[2].scope, BlockScope::kAddress);
  for (const BlockEntry& e : *listed) {
    EXPECT_GT(e.remaining.count(), 30000);
    EXPECT_LE(e.remaining.count(), 60000);
  }
  listed.reset();
  b->ListBlocks(2, [&](bool, std::vector<BlockEntry> e) { listed = std::move(e); });
  ASSERT_TRUE(RunUntil([&] { return listed.has_value(); }));
  EXPECT_EQ(listed->size(), 2u);  // bounded by the limit

  // Reports: an address's failures, users tried and block; a user's failures.
  const LoginKeys keys = Keys("192.0.2.7");
  FailNow(a.get(), keys, 5, 11);
  FailNow(a.get(), keys, 6, 12);
  std::optional<KeyReport> report;
  b->ReportAddress(keys, [&](bool ok, KeyReport r) {
    EXPECT_TRUE(ok);
    report = r;
  });
  ASSERT_TRUE(RunUntil([&] { return report.has_value(); }));
  EXPECT_EQ(report->key, "192.0.2.7");
  EXPECT_EQ(report->failures, 2u);
  EXPECT_EQ(report->users_tried, 2u);
  ASSERT_TRUE(report->block.has_value());
  EXPECT_EQ(report->block->cause, BlockCause::kAddressFailures);
  report.reset();
  b->ReportUser("alice@demo.test", [&](bool ok, KeyReport r) {
    EXPECT_TRUE(ok);
    report = r;
  });
  ASSERT_TRUE(RunUntil([&] { return report.has_value(); }));
  EXPECT_EQ(report->failures, 2u);
  EXPECT_FALSE(report->block.has_value());
}

TEST_F(RedisStoreTest, RemembersSuccessfulAddresses) {
  auto a = NewStore("inst-a", &time_a_);
  auto b = NewStore("inst-b", &time_b_);
  ASSERT_TRUE(a && b);
  a->RecordSuccess(Keys("192.0.2.7"));
  RunFor(milliseconds(20));  // the SET is under way; Redis answers in order per connection
  auto remembered = CheckNow(a.get(), Keys("192.0.2.7"));
  ASSERT_TRUE(remembered && remembered->ok);
  EXPECT_TRUE(remembered->facts.remembered);
  EXPECT_TRUE(CheckNow(b.get(), Keys("192.0.2.7"))->facts.remembered);
  EXPECT_FALSE(CheckNow(b.get(), Keys("192.0.2.8"))->facts.remembered);
  EXPECT_FALSE(CheckNow(b.get(), Keys("192.0.2.7", "bob@demo.test"))->facts.remembered);
}

TEST_F(RedisStoreTest, KeysOfDifferentKindsNeverCollide) {
  auto a = NewStore("inst-a", &time_a_);
  ASSERT_TRUE(a);
  // The same text as an address, a subnet and a user: three keys.
  EXPECT_NE(a->WindowKey("a", "x"), a->WindowKey("s", "x"));
  EXPECT_NE(a->WindowKey("a", "x"), a->WindowKey("u", "x"));
  EXPECT_NE(a->BlockKey(BlockScope::kAddress, "x"), a->BlockKey(BlockScope::kSubnet, "x"));
  // (user, address) pairs cannot be shifted into each other.
  EXPECT_NE(a->RememberKey("ab", "c"), a->RememberKey("a", "bc"));
  EXPECT_EQ(a->WindowKey("a", "192.0.2.7").rfind("test:w:a:", 0), 0u);
  EXPECT_EQ(a->WindowKey("a", "192.0.2.7").size(), std::string("test:w:a:").size() + 32);
}

TEST_F(RedisStoreTest, KickReachesTheOtherInstanceNotItsSender) {
  auto a = NewStore("inst-a", &time_a_);
  auto b = NewStore("inst-b", &time_b_);
  ASSERT_TRUE(a && b);
  std::vector<FleetEvent> at_a, at_b;
  a->SetFleetHandler([&](const FleetEvent& e) { at_a.push_back(e); });
  b->SetFleetHandler([&](const FleetEvent& e) { at_b.push_back(e); });
  FleetEvent kick;
  kick.kind = FleetEventKind::kKick;
  kick.user = "alice@demo.test";
  ASSERT_TRUE(a->bus()->Publish(kick));
  ASSERT_TRUE(RunUntil([&] { return !at_b.empty(); }));
  EXPECT_EQ(at_b[0].kind, FleetEventKind::kKick);
  EXPECT_EQ(at_b[0].user, "alice@demo.test");
  EXPECT_EQ(at_b[0].instance, "inst-a");
  FleetEvent move;
  move.kind = FleetEventKind::kMove;
  move.user = "bob@demo.test";
  move.shard = "shard-b";
  ASSERT_TRUE(a->bus()->Publish(move));
  ASSERT_TRUE(RunUntil([&] { return at_b.size() == 2; }));
  EXPECT_EQ(at_b[1].shard, "shard-b");
  RunFor(milliseconds(50));
  EXPECT_TRUE(at_a.empty()) << "an instance ignores its own events";
  // A malformed line on the channel is counted and dropped.
  auto raw = RedisClient::Create(loop_.get(), ClientOptions());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(RunUntil([&] { return (*raw)->connected(); }));
  (*raw)->Command({"PUBLISH", "test:events", "v1 inst-x kick"}, [](StatusOr<RedisReply>) {});
  (*raw)->Command({"PUBLISH", "test:events", "v1 inst-x wave hello"}, [](StatusOr<RedisReply>) {});
  ASSERT_TRUE(RunUntil([&] { return b->bus()->malformed() == 1; }));
  RunFor(milliseconds(50));
  EXPECT_EQ(at_b.size(), 2u);
}

TEST_F(RedisStoreTest, LatencyHookSeesEveryCommand) {
  auto a = NewStore("inst-a", &time_a_);
  ASSERT_TRUE(a);
  int ok = 0, failed = 0;
  a->SetLatencyHook([&](double seconds, bool success) {
    EXPECT_GE(seconds, 0.0);
    (success ? ok : failed)++;
  });
  FailNow(a.get(), Keys("192.0.2.1"), 1);
  CheckNow(a.get(), Keys("192.0.2.1"));
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(failed, 0);
  server_.Kill();
  ASSERT_TRUE(RunUntil([&] { return !a->connected(); }));
  CheckNow(a.get(), Keys("192.0.2.1"));
  EXPECT_EQ(failed, 1);
}

TEST_F(RedisStoreTest, OutageAnswersAtOnceBoundsInFlightAndRecovers) {
  auto a = NewStore("inst-a", &time_a_);
  auto b = NewStore("inst-b", &time_b_);
  ASSERT_TRUE(a && b);
  const LoginKeys keys = Keys("192.0.2.50");
  ASSERT_EQ(FailNow(a.get(), keys, 1)->counts.address, 1u);

  // A frozen server: commands go out and nothing answers. Past the bound, calls fail at once;
  // the rest fail by their timeout; in flight never exceeds the bound.
  server_.Freeze();
  int answered = 0, failed_at_once = 0;
  size_t most_in_flight = 0;
  int calling = -1;  // the call under way, to tell answers inside it from later ones
  for (int i = 0; i < 1500; ++i) {
    calling = i;
    a->Check(keys, [&, i](PreLoginAnswer ans) {
      ++answered;
      EXPECT_FALSE(ans.ok);
      if (calling == i) ++failed_at_once;
    });
    calling = -1;
    most_in_flight = std::max(most_in_flight, a->in_flight());
  }
  EXPECT_EQ(most_in_flight, 1024u);
  EXPECT_EQ(failed_at_once, 1500 - 1024);
  const Clock::time_point frozen = Clock::now();
  ASSERT_TRUE(RunUntil([&] { return answered == 1500; }, milliseconds(2000)));
  EXPECT_LE(Clock::now() - frozen, milliseconds(1000));  // the 200 ms command timeout
  EXPECT_LE(a->in_flight(), 1024u);

  // Killed: calls answer ok = false promptly, and nothing piles up.
  server_.Kill();
  ASSERT_TRUE(RunUntil([&] { return !a->connected() && !b->connected() && a->in_flight() == 0; },
                       milliseconds(3000)));
  for (int i = 0; i < 100; ++i) {
    const Clock::time_point start = Clock::now();
    std::optional<PreLoginAnswer> ans;
    a->Check(keys, [&](PreLoginAnswer x) { ans = x; });
    ASSERT_TRUE(ans.has_value()) << "answered inside the call while down";
    EXPECT_FALSE(ans->ok);
    EXPECT_LT(Clock::now() - start, milliseconds(50));
  }
  std::optional<FailureAnswer> failure;
  a->RecordFailure(keys, FailureEvent{2, 3}, [&](FailureAnswer x) { failure = x; });
  ASSERT_TRUE(failure.has_value());
  EXPECT_FALSE(failure->ok);
  EXPECT_EQ(a->in_flight(), 0u);

  // Restarted on the same port: both reconnect within the backoff cap (5 s) and share again.
  RunFor(milliseconds(300));
  ASSERT_TRUE(server_.Restart());
  const Clock::time_point restarted = Clock::now();
  ASSERT_TRUE(RunUntil([&] { return a->connected() && b->connected() && b->bus()->subscribed(); },
                       milliseconds(7000)));
  EXPECT_LE(Clock::now() - restarted, milliseconds(6000));
  auto r = FailNow(a.get(), keys, 9);
  ASSERT_TRUE(r && r->ok);
  EXPECT_EQ(r->counts.address, 1u);  // a fresh server: the old window is gone
  auto c = CheckNow(b.get(), keys);
  ASSERT_TRUE(c && c->ok);
  EXPECT_EQ(c->facts.counts.address, 1u);
  a->Block(BlockScope::kAddress, "192.0.2.50", BlockCause::kOperator, milliseconds(60000));
  EXPECT_TRUE(RunUntil([&] { return b->BlockedNow("192.0.2.50", "192.0.2.0/24").has_value(); }));
}

TEST_F(RedisStoreTest, MirrorIsReloadedOnConnect) {
  auto a = NewStore("inst-a", &time_a_);
  ASSERT_TRUE(a);
  a->Block(BlockScope::kAddress, "192.0.2.60", BlockCause::kOperator, milliseconds(60000));
  std::optional<std::vector<BlockEntry>> listed;
  a->ListBlocks(10, [&](bool, std::vector<BlockEntry> e) { listed = std::move(e); });
  ASSERT_TRUE(RunUntil([&] { return listed.has_value(); }));
  ASSERT_EQ(listed->size(), 1u);
  // A store created later learns the block from Redis, not from the bus.
  auto b = NewStore("inst-b", &time_b_);
  ASSERT_TRUE(b);
  EXPECT_TRUE(RunUntil([&] { return b->BlockedNow("192.0.2.60", "192.0.2.0/24").has_value(); }));
  EXPECT_EQ(b->bus()->received(), 0u);
}

TEST_F(RedisStoreTest, ClientFailsAtOnceWithoutServerAndDropsCallbacksOnDestruction) {
  server_.Freeze();
  // Frozen: the TCP connect succeeds (the kernel accepts) but the handshake never answers.
  auto client = RedisClient::Create(loop_.get(), ClientOptions());
  ASSERT_TRUE(client.ok());
  bool answered = false;
  (*client)->Command({"PING"}, [&](StatusOr<RedisReply> r) {
    answered = true;
    EXPECT_FALSE(r.ok());
  });
  EXPECT_TRUE(answered) << "not connected: answered inside the call";
  server_.Thaw();
  ASSERT_TRUE(RunUntil([&] { return (*client)->connected(); }, milliseconds(7000)));
  server_.Freeze();
  int calls = 0;
  for (int i = 0; i < 10; ++i) (*client)->Command({"PING"}, [&](StatusOr<RedisReply>) { ++calls; });
  EXPECT_EQ((*client)->in_flight(), 10u);
  client->reset();  // destroyed with 10 commands in flight
  server_.Thaw();
  RunFor(milliseconds(300));
  EXPECT_EQ(calls, 0) << "no callback after destruction";
}

TEST_F(RedisStoreTest, ClientRejectsBadOptions) {
  RedisClientOptions o = ClientOptions();
  o.port = 0;
  EXPECT_FALSE(RedisClient::Create(loop_.get(), o).ok());
  o = ClientOptions();
  o.max_in_flight = 0;
  EXPECT_FALSE(RedisClient::Create(loop_.get(), o).ok());
  o = ClientOptions();
  o.backoff_max = milliseconds(10);  // below backoff_initial
  EXPECT_FALSE(RedisClient::Create(loop_.get(), o).ok());
  RedisStoreOptions so;
  so.redis = ClientOptions();
  so.prefix = "has space";
  EXPECT_FALSE(RedisStore::Create(loop_.get(), Policy(), so, &time_a_).ok());
  so.prefix = "ok:";
  so.instance_id = "bad id";
  EXPECT_FALSE(RedisStore::Create(loop_.get(), Policy(), so, &time_a_).ok());
}

TEST_F(RedisStoreTest, ScriptCacheFlushFallsBackToEval) {
  auto a = NewStore("inst-a", &time_a_);
  ASSERT_TRUE(a);
  ASSERT_EQ(FailNow(a.get(), Keys("192.0.2.70"), 1)->counts.address, 1u);
  auto raw = RedisClient::Create(loop_.get(), ClientOptions());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(RunUntil([&] { return (*raw)->connected(); }));
  bool flushed = false;
  (*raw)->Command({"SCRIPT", "FLUSH"}, [&](StatusOr<RedisReply> r) { flushed = r.ok() && !r->is_error(); });
  ASSERT_TRUE(RunUntil([&] { return flushed; }));
  // EVALSHA answers NOSCRIPT; the store runs the script's text with EVAL instead.
  auto r = FailNow(a.get(), Keys("192.0.2.70"), 2);
  ASSERT_TRUE(r && r->ok);
  EXPECT_EQ(r->counts.address, 2u);
  auto c = CheckNow(a.get(), Keys("192.0.2.70"));
  ASSERT_TRUE(c && c->ok);
  EXPECT_EQ(c->facts.counts.address, 2u);
}

// A server that wants a password: AUTH and SELECT in the handshake.
class RedisStoreAuthTest : public RedisStoreTest {
 protected:
  std::vector<std::string> ServerArgs() const override { return {"--requirepass", "test-only-pass"}; }
};

TEST_F(RedisStoreAuthTest, AuthenticatesAndSelectsTheDatabase) {
  RedisClientOptions o = ClientOptions();
  o.password = std::make_shared<const SecretString>("test-only-pass");
  o.db = 2;
  auto a = NewStore("inst-a", &time_a_, Policy(), o);
  ASSERT_TRUE(a);
  ASSERT_EQ(FailNow(a.get(), Keys("192.0.2.80"), 1)->counts.address, 1u);
  const std::string key = a->WindowKey("a", "192.0.2.80");
  for (int db : {0, 2}) {
    RedisClientOptions ro = o;
    ro.db = db;
    auto raw = RedisClient::Create(loop_.get(), ro);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(RunUntil([&] { return (*raw)->connected(); }));
    std::optional<int64_t> exists;
    (*raw)->Command({"EXISTS", key}, [&](StatusOr<RedisReply> r) { exists = r.ok() ? r->integer : -1; });
    ASSERT_TRUE(RunUntil([&] { return exists.has_value(); }));
    EXPECT_EQ(*exists, db == 2 ? 1 : 0) << "db " << db;
  }
  // A wrong password never connects, and commands fail at once.
  RedisClientOptions wrong = o;
  wrong.password = std::make_shared<const SecretString>("not-the-pass");
  auto bad = RedisClient::Create(loop_.get(), wrong);
  ASSERT_TRUE(bad.ok());
  RunFor(milliseconds(400));
  EXPECT_FALSE((*bad)->connected());
  bool failed = false;
  (*bad)->Command({"PING"}, [&](StatusOr<RedisReply> r) { failed = !r.ok(); });
  EXPECT_TRUE(failed);
}

}  // namespace
}  // namespace imapgate::ratelimit
