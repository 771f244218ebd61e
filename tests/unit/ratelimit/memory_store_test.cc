// MemoryStore: every Store method with a manual clock, the LRU bounds (windows, remembered,
// blocks), and the memory of a store holding 1,000,000 windows.
#include "ratelimit/memory_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace imapgate::ratelimit {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;

LoginKeys Keys(const std::string& address, const std::string& user) {
  LoginKeys k;
  k.address = address;
  k.subnet = address.substr(0, address.rfind('.')) + ".0/24";
  k.user = user;
  return k;
}

FailureEvent Failure(uint32_t password, uint32_t user) { return FailureEvent{password, user}; }

class MemoryStoreTest : public ::testing::Test {
 protected:
  PreLoginAnswer Check(MemoryStore& store, const LoginKeys& keys) {
    PreLoginAnswer out;
    int calls = 0;
    store.Check(keys, [&](PreLoginAnswer a) {
      out = a;
      ++calls;
    });
    EXPECT_EQ(calls, 1);
    return out;
  }
  LoginCounts Fail(MemoryStore& store, const LoginKeys& keys, uint32_t pw, uint32_t user = 1) {
    FailureAnswer out;
    int calls = 0;
    store.RecordFailure(keys, Failure(pw, user), [&](FailureAnswer a) {
      out = a;
      ++calls;
    });
    EXPECT_EQ(calls, 1);
    EXPECT_TRUE(out.ok);
    return out.counts;
  }
  std::vector<BlockEntry> List(MemoryStore& store, size_t limit = 100) {
    std::vector<BlockEntry> out;
    store.ListBlocks(limit, [&](bool ok, std::vector<BlockEntry> v) {
      EXPECT_TRUE(ok);
      out = std::move(v);
    });
    return out;
  }
  KeyReport ReportAddress(MemoryStore& store, const LoginKeys& keys) {
    KeyReport out;
    store.ReportAddress(keys, [&](bool ok, KeyReport r) {
      EXPECT_TRUE(ok);
      out = std::move(r);
    });
    return out;
  }
  bool Unblock(MemoryStore& store, BlockScope scope, const std::string& key) {
    bool lifted = false;
    store.Unblock(scope, key, [&](bool b) { lifted = b; });
    return lifted;
  }

  ManualTimeSource clock_;
  Policy policy_;
  MemoryStoreOptions small_{/*max_keys=*/10'000, /*max_blocks=*/100, /*max_remembered=*/1'000,
                            /*shards=*/4};
};

TEST_F(MemoryStoreTest, EmptyStoreAnswersZeroes) {
  MemoryStore store(policy_, small_, &clock_);
  const PreLoginAnswer a = Check(store, Keys("192.0.2.7", "alice"));
  EXPECT_TRUE(a.ok);
  EXPECT_EQ(a.facts.counts.address, 0u);
  EXPECT_EQ(a.facts.counts.global, 0u);
  EXPECT_FALSE(a.facts.blocked);
  EXPECT_FALSE(a.facts.remembered);
  EXPECT_EQ(store.key_count(), 0u);  // a check creates nothing
}

TEST_F(MemoryStoreTest, FailureCountsEveryKey) {
  MemoryStore store(policy_, small_, &clock_);
  const LoginKeys alice = Keys("192.0.2.7", "alice");
  LoginCounts c = Fail(store, alice, 11, 101);
  EXPECT_EQ(c.address, 1u);
  EXPECT_EQ(c.subnet, 1u);
  EXPECT_EQ(c.user, 1u);
  EXPECT_EQ(c.user_address, 1u);
  EXPECT_EQ(c.global, 1u);
  EXPECT_EQ(c.users_tried, 1u);
  // Same address, another user: the (user, address) pair and the user are new.
  c = Fail(store, Keys("192.0.2.7", "bob"), 12, 102);
  EXPECT_EQ(c.address, 2u);
  EXPECT_EQ(c.user, 1u);
  EXPECT_EQ(c.user_address, 1u);
  EXPECT_EQ(c.users_tried, 2u);
  // Same subnet, another address, alice again.
  c = Fail(store, Keys("192.0.2.8", "alice"), 13, 101);
  EXPECT_EQ(c.address, 1u);
  EXPECT_EQ(c.subnet, 3u);
  EXPECT_EQ(c.user, 2u);
  EXPECT_EQ(c.user_address, 1u);
  EXPECT_EQ(c.global, 3u);
  EXPECT_EQ(c.users_tried, 1u);
  // Check reads the same counts.
  const PreLoginFacts f = Check(store, alice).facts;
  EXPECT_EQ(f.counts.address, 2u);
  EXPECT_EQ(f.counts.subnet, 3u);
  EXPECT_EQ(f.counts.user, 2u);
  EXPECT_EQ(f.counts.user_address, 1u);
  EXPECT_EQ(f.counts.global, 3u);
  EXPECT_EQ(f.counts.users_tried, 2u);
}

TEST_F(MemoryStoreTest, KindsDoNotShareKeys) {
  MemoryStore store(policy_, small_, &clock_);
  // A user named like an address, an address text equal to a subnet text: all apart.
  LoginKeys k;
  k.address = "x";
  k.subnet = "x";
  k.user = "x";
  Fail(store, k, 1);
  LoginKeys other;
  other.address = "y";
  other.subnet = "y";
  other.user = "x";  // only the user (and global) shared
  const LoginCounts c = Fail(store, other, 2);
  EXPECT_EQ(c.address, 1u);
  EXPECT_EQ(c.subnet, 1u);
  EXPECT_EQ(c.user, 2u);
  EXPECT_EQ(c.user_address, 1u);
  EXPECT_EQ(c.global, 2u);
}

TEST_F(MemoryStoreTest, StalePasswordDoesNotEscalate) {
  MemoryStore store(policy_, small_, &clock_);
  const LoginKeys k = Keys("192.0.2.7", "alice");
  LoginCounts c;
  for (int i = 0; i < 30; ++i) {
    c = Fail(store, k, 4242, 7);
    clock_.Advance(std::chrono::seconds(10));  // 300 s in all: inside the window
  }
  EXPECT_EQ(c.address, 1u);
  EXPECT_EQ(c.user, 1u);
  EXPECT_EQ(c.user_address, 1u);
  EXPECT_EQ(c.users_tried, 1u);
  // A different password counts.
  c = Fail(store, k, 4243, 7);
  EXPECT_EQ(c.address, 2u);
  EXPECT_EQ(c.users_tried, 1u);  // same user
}

TEST_F(MemoryStoreTest, CountsExpireWithTheWindow) {
  MemoryStore store(policy_, small_, &clock_);
  const LoginKeys k = Keys("192.0.2.7", "alice");
  for (uint32_t pw = 1; pw <= 5; ++pw) Fail(store, k, pw);
  EXPECT_EQ(Check(store, k).facts.counts.address, 5u);
  clock_.Advance(policy_.window.length + milliseconds(policy_.window.BucketMs()));
  const PreLoginFacts f = Check(store, k).facts;
  EXPECT_EQ(f.counts.address, 0u);
  EXPECT_EQ(f.counts.global, 0u);
  EXPECT_EQ(f.counts.users_tried, 0u);
}

TEST_F(MemoryStoreTest, RememberedPerUserAndAddressUntilRememberFor) {
  MemoryStore store(policy_, small_, &clock_);
  const LoginKeys alice = Keys("192.0.2.7", "alice");
  store.RecordSuccess(alice);
  EXPECT_TRUE(Check(store, alice).facts.remembered);
  EXPECT_FALSE(Check(store, Keys("192.0.2.8", "alice")).facts.remembered);
  EXPECT_FALSE(Check(store, Keys("192.0.2.7", "bob")).facts.remembered);
  clock_.Advance(policy_.remember_for - milliseconds(1));
  EXPECT_TRUE(Check(store, alice).facts.remembered);
  clock_.Advance(milliseconds(1));
  EXPECT_FALSE(Check(store, alice).facts.remembered);
  store.RecordSuccess(alice);  // a new success renews it
  EXPECT_TRUE(Check(store, alice).facts.remembered);
}

TEST_F(MemoryStoreTest, RememberedIsBoundedLeastRecentlyUsedFirst) {
  MemoryStoreOptions o = small_;
  o.max_remembered = 100;
  o.shards = 1;
  MemoryStore store(policy_, o, &clock_);
  for (int i = 0; i < 300; ++i) {
    store.RecordSuccess(Keys("198.51.100." + std::to_string(i % 250), "u" + std::to_string(i)));
  }
  int remembered = 0;
  for (int i = 0; i < 300; ++i) {
    remembered += Check(store, Keys("198.51.100." + std::to_string(i % 250), "u" + std::to_string(i)))
                      .facts.remembered ? 1 : 0;
  }
  EXPECT_EQ(remembered, 100);
  EXPECT_TRUE(Check(store, Keys("198.51.100.49", "u299")).facts.remembered);
  EXPECT_FALSE(Check(store, Keys("198.51.100.0", "u0")).facts.remembered);
}

TEST_F(MemoryStoreTest, BlocksAddressAndSubnetAndExpire) {
  MemoryStore store(policy_, small_, &clock_);
  const LoginKeys k = Keys("192.0.2.7", "alice");
  EXPECT_FALSE(store.BlockedNow(k.address, k.subnet));
  store.Block(BlockScope::kSubnet, "192.0.2.0/24", BlockCause::kSubnetFailures, minutes(5));
  EXPECT_EQ(store.BlockedNow(k.address, k.subnet), BlockScope::kSubnet);
  store.Block(BlockScope::kAddress, "192.0.2.7", BlockCause::kAddressFailures, minutes(10));
  EXPECT_EQ(store.BlockedNow(k.address, k.subnet), BlockScope::kAddress);  // address first
  EXPECT_EQ(Check(store, k).facts.blocked, BlockScope::kAddress);
  EXPECT_EQ(store.BlockedNow("192.0.3.1", "192.0.3.0/24"), std::nullopt);
  EXPECT_EQ(store.block_count(), 2u);
  // A subnet text is not an address block and vice versa.
  EXPECT_EQ(store.BlockedNow("192.0.2.0/24", "10.0.0.0/24"), std::nullopt);
  clock_.Advance(minutes(5));
  EXPECT_EQ(store.block_count(), 1u);  // the subnet's ran out
  EXPECT_EQ(store.BlockedNow("192.0.2.8", "192.0.2.0/24"), std::nullopt);
  clock_.Advance(minutes(5));
  EXPECT_EQ(store.BlockedNow(k.address, k.subnet), std::nullopt);
  EXPECT_EQ(store.block_count(), 0u);
}

TEST_F(MemoryStoreTest, ListAndUnblock) {
  MemoryStore store(policy_, small_, &clock_);
  store.Block(BlockScope::kAddress, "192.0.2.7", BlockCause::kSpraying, minutes(10));
  store.Block(BlockScope::kSubnet, "198.51.100.0/24", BlockCause::kOperator, minutes(20));
  clock_.Advance(minutes(1));
  std::vector<BlockEntry> list = List(store);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].scope, BlockScope::kAddress);
  EXPECT_EQ(list[0].key, "192.0.2.7");
  EXPECT_EQ(list[0].cause, BlockCause::kSpraying);
  EXPECT_EQ(list[0].remaining, minutes(9));
  EXPECT_EQ(list[1].scope, BlockScope::kSubnet);
  EXPECT_EQ(list[1].key, "198.51.100.0/24");
  EXPECT_EQ(list[1].cause, BlockCause::kOperator);
  EXPECT_EQ(list[1].remaining, minutes(19));
  EXPECT_EQ(List(store, 1).size(), 1u);
  EXPECT_TRUE(List(store, 0).empty());
  EXPECT_FALSE(Unblock(store, BlockScope::kSubnet, "192.0.2.7"));  // wrong scope
  EXPECT_TRUE(Unblock(store, BlockScope::kAddress, "192.0.2.7"));
  EXPECT_FALSE(Unblock(store, BlockScope::kAddress, "192.0.2.7"));
  EXPECT_EQ(store.BlockedNow("192.0.2.7", "192.0.2.0/24"), std::nullopt);
  EXPECT_EQ(List(store).size(), 1u);
}

TEST_F(MemoryStoreTest, ReblockReplacesAndZeroDurationLifts) {
  MemoryStore store(policy_, small_, &clock_);
  store.Block(BlockScope::kAddress, "192.0.2.7", BlockCause::kAddressFailures, minutes(10));
  store.Block(BlockScope::kAddress, "192.0.2.7", BlockCause::kOperator, minutes(60));
  std::vector<BlockEntry> list = List(store);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].cause, BlockCause::kOperator);
  EXPECT_EQ(list[0].remaining, minutes(60));
  store.Block(BlockScope::kAddress, "192.0.2.7", BlockCause::kOperator, milliseconds(0));
  EXPECT_EQ(store.block_count(), 0u);
}

TEST_F(MemoryStoreTest, BlocksAreBoundedAndTheFirstToExpireGoes) {
  MemoryStoreOptions o = small_;
  o.max_blocks = 3;
  MemoryStore store(policy_, o, &clock_);
  store.Block(BlockScope::kAddress, "10.0.0.1", BlockCause::kOperator, minutes(30));
  store.Block(BlockScope::kAddress, "10.0.0.2", BlockCause::kOperator, minutes(5));  // first out
  store.Block(BlockScope::kAddress, "10.0.0.3", BlockCause::kOperator, minutes(20));
  store.Block(BlockScope::kAddress, "10.0.0.4", BlockCause::kOperator, minutes(10));
  EXPECT_EQ(store.block_count(), 3u);
  EXPECT_EQ(store.BlockedNow("10.0.0.2", ""), std::nullopt);
  EXPECT_EQ(store.BlockedNow("10.0.0.1", ""), BlockScope::kAddress);
  EXPECT_EQ(store.BlockedNow("10.0.0.4", ""), BlockScope::kAddress);
  for (int i = 0; i < 1000; ++i) {
    store.Block(BlockScope::kAddress, "10.1.0." + std::to_string(i), BlockCause::kOperator,
                minutes(1 + i));
  }
  EXPECT_EQ(store.block_count(), 3u);
}

TEST_F(MemoryStoreTest, BlockKeyLengthIsBounded) {
  MemoryStore store(policy_, small_, &clock_);
  const std::string too_long(129, 'a');
  store.Block(BlockScope::kAddress, too_long, BlockCause::kOperator, minutes(5));
  store.Block(BlockScope::kAddress, "", BlockCause::kOperator, minutes(5));
  EXPECT_EQ(store.block_count(), 0u);
  EXPECT_EQ(store.BlockedNow(too_long, too_long), std::nullopt);
  const std::string longest(128, 'a');
  store.Block(BlockScope::kAddress, longest, BlockCause::kOperator, minutes(5));
  EXPECT_EQ(store.block_count(), 1u);
  EXPECT_EQ(store.BlockedNow(longest, ""), BlockScope::kAddress);
}

TEST_F(MemoryStoreTest, Reports) {
  MemoryStore store(policy_, small_, &clock_);
  const LoginKeys k = Keys("192.0.2.7", "alice");
  Fail(store, k, 1, 1);
  Fail(store, k, 2, 1);
  Fail(store, Keys("192.0.2.7", "bob"), 3, 2);
  KeyReport r = ReportAddress(store, k);
  EXPECT_EQ(r.key, "192.0.2.7");
  EXPECT_EQ(r.failures, 3u);
  EXPECT_EQ(r.users_tried, 2u);
  EXPECT_FALSE(r.block);
  store.Block(BlockScope::kSubnet, "192.0.2.0/24", BlockCause::kSubnetFailures, minutes(5));
  r = ReportAddress(store, k);
  ASSERT_TRUE(r.block);
  EXPECT_EQ(r.block->scope, BlockScope::kSubnet);
  EXPECT_EQ(r.block->key, "192.0.2.0/24");
  store.Block(BlockScope::kAddress, "192.0.2.7", BlockCause::kSpraying, minutes(5));
  r = ReportAddress(store, k);
  ASSERT_TRUE(r.block);
  EXPECT_EQ(r.block->scope, BlockScope::kAddress);
  EXPECT_EQ(r.block->cause, BlockCause::kSpraying);
  KeyReport u;
  store.ReportUser("alice", [&](bool ok, KeyReport rep) {
    EXPECT_TRUE(ok);
    u = std::move(rep);
  });
  EXPECT_EQ(u.key, "alice");
  EXPECT_EQ(u.failures, 2u);
  EXPECT_EQ(u.users_tried, 0u);
  EXPECT_FALSE(u.block);
}

TEST_F(MemoryStoreTest, NullCallbacksAreAllowed) {
  MemoryStore store(policy_, small_, &clock_);
  const LoginKeys k = Keys("192.0.2.7", "alice");
  store.Check(k, nullptr);
  store.RecordFailure(k, Failure(1, 1), nullptr);
  store.Unblock(BlockScope::kAddress, "x", nullptr);
  store.ListBlocks(10, nullptr);
  store.ReportAddress(k, nullptr);
  store.ReportUser("alice", nullptr);
  EXPECT_GT(store.key_count(), 0u);
}

TEST_F(MemoryStoreTest, WindowsAreBoundedByMaxKeys) {
  MemoryStoreOptions o = small_;
  o.max_keys = 1000;
  o.shards = 4;
  MemoryStore store(policy_, o, &clock_);
  // 3 × max_keys distinct addresses (each also brings users_tried and (user, address) keys).
  for (int i = 0; i < 3000; ++i) {
    Fail(store, Keys("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1", "u"),
         static_cast<uint32_t>(i + 1));
    ASSERT_LE(store.key_count(), o.max_keys);
  }
  EXPECT_GE(store.key_count(), o.max_keys * 9 / 10);  // the shards fill up
}

TEST_F(MemoryStoreTest, EvictionKeepsTheKeysInUse) {
  MemoryStoreOptions o = small_;
  o.max_keys = 200;
  o.shards = 1;
  MemoryStore store(policy_, o, &clock_);
  const LoginKeys victim = Keys("192.0.2.7", "alice");
  Fail(store, victim, 1);
  for (int i = 0; i < 5000; ++i) {
    Fail(store, Keys("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256), "bob"),
         static_cast<uint32_t>(1000 + i));
    // alice's address keeps failing now and then: its window stays.
    if (i % 20 == 0) Fail(store, victim, static_cast<uint32_t>(2 + i / 20) % 7 + 2);
  }
  EXPECT_EQ(Check(store, victim).facts.counts.address, 8u);  // 1, then seven more distinct (2..8)
  // An address seen once long ago is gone.
  EXPECT_EQ(Check(store, Keys("10.0.0.0", "bob")).facts.counts.address, 0u);
}

TEST_F(MemoryStoreTest, MemoryBytesGrowsWithKeysAndStaysUnderTheBound) {
  MemoryStore store(policy_, small_, &clock_);
  const size_t empty = store.MemoryBytes();
  EXPECT_LE(empty, MemoryStore::MemoryBound(small_));
  for (int i = 0; i < 20'000; ++i) {
    Fail(store, Keys("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1", "u"),
         static_cast<uint32_t>(i + 1));
    store.RecordSuccess(Keys("10.9.9." + std::to_string(i % 256), "u" + std::to_string(i)));
  }
  for (int i = 0; i < 200; ++i) {
    store.Block(BlockScope::kSubnet, std::string(128, 'a' + i % 26) + std::to_string(i),
                BlockCause::kOperator, minutes(5));
    store.Block(BlockScope::kAddress, "10.0.0." + std::to_string(i), BlockCause::kOperator, minutes(5));
  }
  EXPECT_GT(store.MemoryBytes(), empty + 10'000 * 88);
  EXPECT_LE(store.MemoryBytes(), MemoryStore::MemoryBound(small_));
}

TEST_F(MemoryStoreTest, ConcurrentFailuresAreAllCounted) {
  MemoryStoreOptions o = small_;
  o.shards = 8;
  MemoryStore store(policy_, o, &clock_);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Distinct password fingerprints, so every failure counts in the shared keys.
        store.RecordFailure(Keys("192.0.2." + std::to_string(i % 50), "alice"),
                            Failure(static_cast<uint32_t>(t * kPerThread + i + 1), 1), nullptr);
      }
    });
  }
  for (auto& th : threads) th.join();
  PreLoginAnswer a;
  store.Check(Keys("192.0.2.0", "alice"), [&](PreLoginAnswer x) { a = x; });
  EXPECT_EQ(a.facts.counts.global, static_cast<uint32_t>(kThreads * kPerThread));
  EXPECT_EQ(a.facts.counts.user, static_cast<uint32_t>(kThreads * kPerThread));
  EXPECT_EQ(a.facts.counts.subnet, static_cast<uint32_t>(kThreads * kPerThread));
  EXPECT_EQ(a.facts.counts.address, static_cast<uint32_t>(kThreads * kPerThread / 50));
}

// --- A million keys ---

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Resident bytes of this process (Linux), or 0 when unknown.
size_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// The stated memory bound of a window: its 88-byte entry, its share of the index (at most 8
// bytes) and room for the allocator: 100 bytes per key, so 1,000,000 keys in 100 MB.
constexpr size_t kBytesPerKey = 100;

TEST_F(MemoryStoreTest, MillionKeysStayWithinTheMemoryBound) {
  // 1,000,000 keys; a sanitizer build (slow, and its shadow memory skews RSS) may scale it down
  // with IMAPGATE_RATELIMIT_TEST_KEYS, and skips the RSS half.
  size_t keys = 1'000'000;
  if (const char* env = std::getenv("IMAPGATE_RATELIMIT_TEST_KEYS"); env != nullptr && kSanitized) {
    keys = std::strtoul(env, nullptr, 10);
  }
  MemoryStoreOptions o;  // the defaults: 64 shards, 1,000,000 windows
  o.max_keys = keys;
  const size_t rss_before = ResidentBytes();
  {
    MemoryStore store(policy_, o, &clock_);
    // Each failure from a new address brings 3 new keys (address, users tried, (user, address))
    // and a subnet key every 256 addresses. 0.6 × keys failures: 1.8 × keys insertions, enough
    // to fill every shard and then evict.
    std::string address;
    LoginKeys k;
    k.user = "victim@demo.test";
    const size_t failures = keys * 6 / 10;
    for (size_t i = 0; i < failures; ++i) {
      const uint32_t a = static_cast<uint32_t>(i);
      k.address = std::to_string(10 + (a >> 24)) + "." + std::to_string((a >> 16) & 255) + "." +
                  std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
      k.subnet = k.address.substr(0, k.address.rfind('.')) + ".0/24";
      store.RecordFailure(k, Failure(a + 1, 1), nullptr);
    }
    EXPECT_EQ(store.key_count(), keys);  // full, and not one more
    const size_t bytes = store.MemoryBytes();
    const size_t rss_growth = ResidentBytes() - rss_before;
    std::printf("[ info ] %zu keys: MemoryBytes %zu (%.1f B/key), RSS growth %zu (%.1f B/key), "
                "bound %zu B/key, MemoryBound %zu\n",
                keys, bytes, double(bytes) / double(keys), rss_growth,
                double(rss_growth) / double(keys), kBytesPerKey, MemoryStore::MemoryBound(o));
    EXPECT_LE(bytes, keys * kBytesPerKey);
    EXPECT_LE(bytes, MemoryStore::MemoryBound(o));
    if (!kSanitized && rss_before != 0) {
      EXPECT_LE(rss_growth, keys * kBytesPerKey);
      // And the estimate is honest: the process did not grow much more than it says.
      EXPECT_LE(rss_growth, bytes + bytes / 20 + (4u << 20));
    }
  }
}

}  // namespace
}  // namespace imapgate::ratelimit
