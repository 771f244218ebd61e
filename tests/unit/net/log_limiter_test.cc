// Tests for net/log_limiter.h: a bounded number of lines per window, and the count of the rest.

#include "net/log_limiter.h"

#include <gtest/gtest.h>

namespace imapgate::net {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;

TEST(LogRateLimiterTest, LetsNLinesThroughPerWindowAndCountsTheDropped) {
  LogRateLimiter limiter(2, seconds(10));
  const steady_clock::time_point t0{seconds(1000)};
  uint64_t suppressed = 99;
  EXPECT_TRUE(limiter.Allow(t0, &suppressed));
  EXPECT_EQ(suppressed, 0u);
  EXPECT_TRUE(limiter.Allow(t0 + seconds(1), &suppressed));
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(limiter.Allow(t0 + seconds(2), &suppressed));
  EXPECT_FALSE(limiter.Allow(t0 + seconds(9), &suppressed));
  // A new window: the first line reports how many were dropped before it.
  EXPECT_TRUE(limiter.Allow(t0 + seconds(10), &suppressed));
  EXPECT_EQ(suppressed, 1001u);
  EXPECT_TRUE(limiter.Allow(t0 + seconds(11), &suppressed));
  EXPECT_EQ(suppressed, 0u);
}

TEST(LogRateLimiterTest, OneLinePerWindow) {
  LogRateLimiter limiter(1, seconds(10));
  const steady_clock::time_point t0{seconds(5)};
  uint64_t suppressed = 0;
  int written = 0;
  for (int ms = 0; ms < 30000; ms += 100) {  // an accept() failing every 100 ms for 30 s
    if (limiter.Allow(t0 + std::chrono::milliseconds(ms), &suppressed)) ++written;
  }
  EXPECT_EQ(written, 3);
}

}  // namespace
}  // namespace imapgate::net
