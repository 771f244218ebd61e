// Tests for route/rendezvous.h: the hand-written ln against libm, and its extremes.
#include "route/rendezvous.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "route/hash.h"

namespace imapgate::route {
namespace {

double Unit(uint64_t x) { return static_cast<double>(2 * (x >> 12) + 1) * 0x1p-53; }

TEST(NegLogUnitTest, AgreesWithLibmToNearlyFullPrecision) {
  for (uint64_t i = 0; i < 200000; ++i) {
    const uint64_t x = Mix64(i);
    const double expected = -std::log(Unit(x));
    EXPECT_NEAR(NegLogUnit(x), expected, 4e-15 * expected) << x;
  }
}

TEST(NegLogUnitTest, IsFiniteAndPositiveAtTheExtremes) {
  for (uint64_t x : {uint64_t{0}, uint64_t{1}, uint64_t{4095}, uint64_t{4096}, ~uint64_t{0},
                     ~uint64_t{0} - 4096, uint64_t{1} << 63}) {
    const double v = NegLogUnit(x);
    EXPECT_TRUE(std::isfinite(v)) << x;
    EXPECT_GT(v, 0.0) << x;
    EXPECT_NEAR(v, -std::log(Unit(x)), 4e-15 * v) << x;
  }
  // The smallest u (2^-53) and the largest (1 - 2^-53).
  EXPECT_NEAR(NegLogUnit(0), 53 * std::log(2.0), 1e-13);
  EXPECT_NEAR(NegLogUnit(~uint64_t{0}), 0x1p-53, 1e-30);
}

TEST(RendezvousScoreTest, ScalesWithTheWeight) {
  const double one = RendezvousScore(12345, 678, 1);
  EXPECT_DOUBLE_EQ(RendezvousScore(12345, 678, 3), 3 * one);
  EXPECT_GT(one, 0);
}

// PairScoreBelow is a pruning test: when it says "below", the exact score must be below.
TEST(PairScoreBelowTest, NeverPrunesAScoreThatReachesTheBound) {
  int pruned = 0;
  for (uint64_t i = 0; i < 200000; ++i) {
    const uint64_t pair = Mix64(i * 0x9e3779b97f4a7c15ULL);
    const double weight = 1 + static_cast<double>(i % 4);
    const double score = PairScore(pair, weight);
    // Bounds around the score itself, where rounding matters most, and further off.
    for (double factor : {1.0, 1.0 + 1e-15, 1.0 - 1e-15, 1.5, 0.5, 4.0}) {
      const double bound = score * factor;
      if (PairScoreBelow(pair, weight, bound)) {
        ++pruned;
        ASSERT_LT(score, bound) << "pair " << pair << " weight " << weight << " factor " << factor;
      }
    }
  }
  EXPECT_GT(pruned, 0);
}

TEST(PairScoreBelowTest, PrunesMostDrawsAgainstAHighBound) {
  // Against the best of 100 equal shards (a score near 100), nearly every other draw is pruned.
  int pruned = 0;
  for (uint64_t i = 0; i < 100000; ++i) pruned += PairScoreBelow(Mix64(i), 1.0, 100.0);
  EXPECT_GT(pruned, 98000);
}

}  // namespace
}  // namespace imapgate::route
