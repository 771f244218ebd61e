// Tests for the pure HTTP request helpers: percent-decoding, query strings, loopback addresses.

#include "net/http_message.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::net {
namespace {

TEST(PercentDecodeTest, DecodesEscapes) {
  auto r = PercentDecode("alice%40demo.test%2b", false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "alice@demo.test+");
}

TEST(PercentDecodeTest, PlusIsSpaceOnlyInQueries) {
  EXPECT_EQ(*PercentDecode("a+b", true), "a b");
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
}

TEST(PercentDecodeTest, RefusesMalformedAndTruncatedEscapes) {
  EXPECT_FALSE(PercentDecode("%", false).ok());
  EXPECT_FALSE(PercentDecode("a%4", false).ok());
  EXPECT_FALSE(PercentDecode("%zz", false).ok());
  EXPECT_FALSE(PercentDecode("%4g", false).ok());
}

TEST(PercentDecodeTest, RefusesNul) {
  EXPECT_FALSE(PercentDecode("a%00b", false).ok());
  EXPECT_FALSE(PercentDecode(std::string("a\0b", 3), false).ok());
}

TEST(ParseQueryTest, SplitsAndDecodes) {
  auto r = ParseQuery("user=alice%40demo.test&x&&y=a+b");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0], (std::pair<std::string, std::string>("user", "alice@demo.test")));
  EXPECT_EQ((*r)[1], (std::pair<std::string, std::string>("x", "")));
  EXPECT_EQ((*r)[2], (std::pair<std::string, std::string>("y", "a b")));
  EXPECT_TRUE(ParseQuery("")->empty());
}

TEST(ParseQueryTest, BoundsTheNumberOfPairs) {
  std::string q;
  for (size_t i = 0; i < kMaxQueryParams; ++i) q += "a=1&";
  EXPECT_TRUE(ParseQuery(q).ok());
  EXPECT_FALSE(ParseQuery(q + "b=2").ok());
}

TEST(ParseQueryTest, RefusesBadEscape) { EXPECT_FALSE(ParseQuery("user=%zz").ok()); }

TEST(IsLoopbackAddressTest, KnowsLoopback) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackAddress("127.255.0.9"));
  EXPECT_TRUE(IsLoopbackAddress("::1"));
  EXPECT_TRUE(IsLoopbackAddress("::ffff:127.0.0.1"));
}

TEST(IsLoopbackAddressTest, OthersAreNot) {
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0"));
  EXPECT_FALSE(IsLoopbackAddress("::"));
  EXPECT_FALSE(IsLoopbackAddress("::2"));
  EXPECT_FALSE(IsLoopbackAddress("::ffff:10.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("fe80::1"));
  EXPECT_FALSE(IsLoopbackAddress(""));
  EXPECT_FALSE(IsLoopbackAddress("localhost"));
  EXPECT_FALSE(IsLoopbackAddress("127.0.0.1 "));
  EXPECT_FALSE(IsLoopbackAddress(std::string(100, '1')));
}

}  // namespace
}  // namespace imapgate::net
