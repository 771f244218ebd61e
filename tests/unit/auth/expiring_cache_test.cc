// Unit tests for auth/expiring_cache.h: the bounded expiring map and the keyed hasher.
#include "auth/expiring_cache.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

#include "test_hex.h"

namespace imapgate::auth {
namespace {

using testing::Hex;

CacheKey Key(uint8_t n) {
  CacheKey key{};
  key[0] = n;
  key[8] = n;
  return key;
}

TEST(ExpiringCache, GetsWhatWasPutUntilItExpires) {
  ExpiringCache<int> cache(10);
  cache.Put(Key(1), 11, 100);
  EXPECT_EQ(cache.Get(Key(1), 99), std::optional<int>(11));
  EXPECT_FALSE(cache.Get(Key(2), 99).has_value());
  EXPECT_FALSE(cache.Get(Key(1), 100).has_value());  // expired at 100, and dropped
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ExpiringCache, PutReplacesAndEraseRemoves) {
  ExpiringCache<int> cache(10);
  cache.Put(Key(1), 11, 100);
  cache.Put(Key(1), 12, 200);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Get(Key(1), 150), std::optional<int>(12));
  EXPECT_TRUE(cache.Erase(Key(1)));
  EXPECT_FALSE(cache.Erase(Key(1)));
  EXPECT_FALSE(cache.Get(Key(1), 0).has_value());
}

TEST(ExpiringCache, IsBoundedEvictingWhatExpiresFirst) {
  ExpiringCache<int> cache(2, 1);
  cache.Put(Key(1), 1, 500);
  cache.Put(Key(2), 2, 50);   // expires first
  cache.Put(Key(3), 3, 600);  // full: Key(2) goes
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Get(Key(2), 0).has_value());
  EXPECT_EQ(cache.Get(Key(1), 0), std::optional<int>(1));
  EXPECT_EQ(cache.Get(Key(3), 0), std::optional<int>(3));
  // With one lifetime for all, the oldest goes.
  ExpiringCache<int> fifo(3, 1);
  for (uint8_t i = 1; i <= 5; ++i) fifo.Put(Key(i), i, 1000 + i);
  EXPECT_EQ(fifo.size(), 3u);
  EXPECT_FALSE(fifo.Get(Key(1), 0).has_value());
  EXPECT_FALSE(fifo.Get(Key(2), 0).has_value());
  EXPECT_TRUE(fifo.Get(Key(5), 0).has_value());
}

TEST(ExpiringCache, StripedBoundHoldsForManyKeys) {
  ExpiringCache<int> cache(64, 16);
  EXPECT_EQ(cache.capacity(), 64u);
  KeyedHasher hasher;
  for (int i = 0; i < 2000; ++i) cache.Put(hasher.Hash({std::to_string(i)}), i, 1000);
  EXPECT_LE(cache.size(), cache.capacity());
  EXPECT_GT(cache.size(), 32u);
}

TEST(ExpiringCache, IsThreadSafe) {
  ExpiringCache<int> cache(100000);
  KeyedHasher hasher;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const CacheKey key = hasher.Hash({std::to_string(t), std::to_string(i)});
        cache.Put(key, i, 100);
        EXPECT_EQ(cache.Get(key, 0), std::optional<int>(i));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(cache.size(), 8000u);
}

TEST(KeyedHasher, FramesEachPartWithItsLength) {
  KeyedHasher hasher;
  EXPECT_NE(hasher.Hash({"ab", "c"}), hasher.Hash({"a", "bc"}));
  EXPECT_NE(hasher.Hash({"abc"}), hasher.Hash({"ab", "c"}));
  EXPECT_NE(hasher.Hash({"", "a"}), hasher.Hash({"a", ""}));
  EXPECT_EQ(hasher.Hash({"ab", "c"}), hasher.Hash({"ab", "c"}));
}

TEST(KeyedHasher, IsHmacSha256OfTheLengthPrefixedParts) {
  // Python: hmac.new(bytes(32), b"\0"*7 + b"\x01a", hashlib.sha256).hexdigest()
  EXPECT_EQ(Hex(KeyedHasher(std::array<uint8_t, 32>{}).Hash({"a"})),
            "df763263167c619bd7cdaebfcc476f1c83e99f3982c5c214c7fa677feda60292");
  std::array<uint8_t, 32> key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Hex(KeyedHasher(key).Hash({"ab", "c"})),
            "17eca1f3cf4e1f92cd415f54de5121e367cbc209edff96da287c5cd432cf9a46");
}

TEST(KeyedHasher, EachInstanceHasItsOwnRandomKey) {
  KeyedHasher a, b;
  EXPECT_NE(a.Hash({"alice"}), b.Hash({"alice"}));
}

}  // namespace
}  // namespace imapgate::auth
