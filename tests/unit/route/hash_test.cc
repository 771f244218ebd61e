// Tests for route/hash.h: SipHash-2-4 against the reference vectors, and the router's key pinned.
#include "route/hash.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace imapgate::route {
namespace {

// The reference implementation's test vectors: key 00 01 .. 0f, message 00 01 .. (n-1).
std::string Bytes(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(i));
  return s;
}
constexpr uint64_t kK0 = 0x0706050403020100ULL;
constexpr uint64_t kK1 = 0x0f0e0d0c0b0a0908ULL;

TEST(SipHashTest, MatchesReferenceVectors) {
  EXPECT_EQ(SipHash24(Bytes(0), kK0, kK1), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(SipHash24(Bytes(1), kK0, kK1), 0x74f839c593dc67fdULL);
  EXPECT_EQ(SipHash24(Bytes(8), kK0, kK1), 0x93f5f5799a932462ULL);
  EXPECT_EQ(SipHash24(Bytes(15), kK0, kK1), 0xa129ca6149be45e5ULL);
}

// The router's key and algorithm are part of the shard map: a change would move users. These
// values were computed once; they must never change.
TEST(StableHashTest, IsPinned) {
  EXPECT_EQ(StableHash(""), 8517538157132140664ULL);
  EXPECT_EQ(StableHash("alice@demo.test"), 18340788874969808350ULL);
  EXPECT_EQ(StableHash("shard-a"), 9285575380253646064ULL);
}

TEST(StableHashTest, DependsOnEveryByteAndTheLength) {
  std::set<uint64_t> seen;
  const std::string base = "user0000@example.com";
  seen.insert(StableHash(base));
  for (size_t i = 0; i < base.size(); ++i) {
    std::string changed = base;
    changed[i] ^= 1;
    seen.insert(StableHash(changed));
  }
  seen.insert(StableHash(base + '\0'));
  seen.insert(StableHash(base.substr(0, base.size() - 1)));
  EXPECT_EQ(seen.size(), base.size() + 3);
}

TEST(Mix64Test, SpreadsOneBitChangesOverAboutHalfTheBits) {
  // Avalanche: flipping one input bit flips ~32 output bits on average.
  double total = 0;
  int samples = 0;
  for (uint64_t x = 1; x < 2000; x += 7) {
    for (int bit = 0; bit < 64; ++bit) {
      total += __builtin_popcountll(Mix64(x) ^ Mix64(x ^ (1ULL << bit)));
      ++samples;
    }
  }
  EXPECT_NEAR(total / samples, 32.0, 0.5);
}

}  // namespace
}  // namespace imapgate::route
