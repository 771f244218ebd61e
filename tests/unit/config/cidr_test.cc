// Tests for the config's CIDR parser (config/cidr.cc).
#include "config/cidr.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::config {
namespace {

std::string Canonical(std::string_view text) {
  auto range = ParseCidr(text);
  EXPECT_TRUE(range.ok()) << text << ": " << range.status().message();
  return range.ok() ? range->ToString() : "";
}

std::string CidrError(std::string_view text) {
  auto range = ParseCidr(text);
  EXPECT_FALSE(range.ok()) << text;
  return range.ok() ? "" : range.status().message();
}

TEST(CidrTest, ParsesRangesAndBareAddressesAsHostRoutes) {
  EXPECT_EQ(Canonical("10.0.0.0/8"), "10.0.0.0/8");
  EXPECT_EQ(Canonical("0.0.0.0/0"), "0.0.0.0/0");
  EXPECT_EQ(Canonical("127.0.0.1"), "127.0.0.1/32");
  EXPECT_EQ(Canonical("::1/128"), "::1/128");
  EXPECT_EQ(Canonical("::1"), "::1/128");
  EXPECT_EQ(Canonical("::/0"), "::/0");
  EXPECT_EQ(Canonical("2001:DB8:0:0::/32"), "2001:db8::/32");
  EXPECT_EQ(Canonical("::ffff:10.0.0.0/104"), "::ffff:10.0.0.0/104");
  auto range = ParseCidr("192.168.0.0/16");
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(range->address, "192.168.0.0");
  EXPECT_EQ(range->prefix_length, 16);
  EXPECT_FALSE(range->ipv6);
  range = ParseCidr("fd00::/8");
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->ipv6);
  EXPECT_EQ(range->prefix_length, 8);
}

TEST(CidrTest, PrefixBoundsPerFamily) {
  EXPECT_EQ(Canonical("10.1.2.3/32"), "10.1.2.3/32");
  EXPECT_EQ(CidrError("10.1.2.3/33"), "the prefix length must be a number 0..32");
  EXPECT_EQ(Canonical("fd00::1/128"), "fd00::1/128");
  EXPECT_EQ(CidrError("fd00::1/129"), "the prefix length must be a number 0..128");
  EXPECT_EQ(CidrError("10.0.0.0/"), "the prefix length must be a number 0..32");
  EXPECT_EQ(CidrError("10.0.0.0/08"), "the prefix length must be a number 0..32");
  EXPECT_EQ(CidrError("10.0.0.0/-1"), "the prefix length must be a number 0..32");
  EXPECT_EQ(CidrError("10.0.0.0/8x"), "the prefix length must be a number 0..32");
  EXPECT_EQ(CidrError("::/1000"), "the prefix length must be a number 0..128");
}

TEST(CidrTest, RefusesBadAddressesAndHostBitsPastThePrefix) {
  const std::string bad = "not an IPv4 or IPv6 address (expected e.g. 10.0.0.0/8 or ::1/128)";
  EXPECT_EQ(CidrError(""), "empty CIDR range");
  EXPECT_EQ(CidrError("/8"), bad);
  EXPECT_EQ(CidrError("10.0.0/8"), bad);
  EXPECT_EQ(CidrError("010.0.0.0/8"), bad);
  EXPECT_EQ(CidrError("256.0.0.0/8"), bad);
  EXPECT_EQ(CidrError("localhost"), bad);
  EXPECT_EQ(CidrError("[::1]/128"), bad);
  EXPECT_EQ(CidrError("fe80::1%eth0"), bad);
  EXPECT_EQ(CidrError(" 10.0.0.0/8"), bad);
  EXPECT_EQ(CidrError("10.0.0.1/8"),
            "the address has bits set past the prefix length /8 (write the network address)");
  EXPECT_EQ(CidrError("2001:db8::1/32"),
            "the address has bits set past the prefix length /32 (write the network address)");
}

}  // namespace
}  // namespace imapgate::config
