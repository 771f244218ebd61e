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

}  // namespace
}  // namespace imapgate::route
