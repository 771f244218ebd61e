// Tests for proxyproto/address.h: strict IPv4/IPv6 text, checked against inet_pton/inet_ntop,
// mapping, formatting.
#include "proxyproto/address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace imapgate::proxyproto {
namespace {

// inet_pton's verdict and bytes, as the reference.
std::optional<IpAddress> Reference(const std::string& text, int af) {
  uint8_t buf[16] = {};
  if (inet_pton(af, text.c_str(), buf) != 1) return std::nullopt;
  IpAddress ip;
  ip.family = af == AF_INET ? Family::kIPv4 : Family::kIPv6;
  std::memcpy(ip.bytes.data(), buf, af == AF_INET ? 4 : 16);
  return ip;
}

TEST(AddressTest, ParsesIpv4) {
  auto ip = ParseIpv4("192.0.2.1");
  ASSERT_TRUE(ip);
  EXPECT_EQ(*ip, IpAddress::V4(192, 0, 2, 1));
  EXPECT_EQ(ParseIpv4("0.0.0.0"), IpAddress::V4(0, 0, 0, 0));
  EXPECT_EQ(ParseIpv4("255.255.255.255"), IpAddress::V4(255, 255, 255, 255));
}

TEST(AddressTest, RefusesBadIpv4) {
  for (const char* bad : {"", "1", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "1.2.3.04", "1..2.3",
                          ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d", "1.2.3.-4", "1234.1.1.1",
                          "1.2.3.4/8", "0x1.2.3.4"}) {
    EXPECT_FALSE(ParseIpv4(bad)) << bad;
    EXPECT_FALSE(Reference(bad, AF_INET)) << "reference disagrees on " << bad;
  }
}

TEST(AddressTest, Ipv6AgreesWithInetPton) {
  for (const char* text : {"::", "::1", "1::", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "fe80::1:2:3:4",
                           "1:2:3:4:5:6:7:8", "::ffff:192.0.2.1", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
                           "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
                           "0000:0000:0000:0000:0000:0000:0000:0001"}) {
    auto ours = ParseIpv6(text);
    auto ref = Reference(text, AF_INET6);
    ASSERT_TRUE(ref) << text;
    ASSERT_TRUE(ours) << text;
    EXPECT_EQ(*ours, *ref) << text;
  }
}

TEST(AddressTest, RefusesBadIpv6) {
  for (const char* bad : {"", ":", ":::", "1:::2", ":1", "1:", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7", "::1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8::", "g::1", "::1.2.3",
                          "::1.2.3.4:5", "1:2:3:4:5:6:7:1.2.3.4", "::01.2.3.4", "[::1]", "::1%eth0",
                          "1.2.3.4"}) {
    EXPECT_FALSE(ParseIpv6(bad)) << bad;
    EXPECT_FALSE(Reference(bad, AF_INET6)) << "reference disagrees on " << bad;
  }
  // Longer than any address can be.
  EXPECT_FALSE(ParseIpv6("0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000"));
}

TEST(AddressTest, ParseIpPicksTheFamily) {
  EXPECT_EQ(ParseIp("10.1.2.3")->family, Family::kIPv4);
  EXPECT_EQ(ParseIp("::1")->family, Family::kIPv6);
  EXPECT_FALSE(ParseIp("localhost"));
}

TEST(AddressTest, MapsAndUnmaps) {
  IpAddress v4 = IpAddress::V4(10, 1, 2, 3);
  IpAddress mapped = v4.Mapped();
  EXPECT_EQ(mapped.family, Family::kIPv6);
  EXPECT_TRUE(mapped.IsV4Mapped());
  EXPECT_EQ(mapped, *ParseIpv6("::ffff:10.1.2.3"));
  EXPECT_EQ(mapped.Unmapped(), v4);
  EXPECT_EQ(v4.Unmapped(), v4);
  EXPECT_FALSE(ParseIpv6("::1")->IsV4Mapped());
  EXPECT_EQ(ParseIpv6("::1")->Unmapped(), *ParseIpv6("::1"));
}

TEST(AddressTest, FormatsLikeInetNtop) {
  for (const char* text : {"::", "::1", "1::", "2001:db8::1", "2001:db8:0:1:0:0:0:1", "1:0:0:2:0:0:0:3",
                           "1:0:2:0:3:0:4:0", "fe80::abcd:ef01", "::ffff:192.0.2.1", "1:2:3:4:5:6:7:8",
                           "0:0:1::", "2001:DB8::A", "::1.2.3.4", "::ffdf:104", "::0:104", "::1:0"}) {
    IpAddress ip = *ParseIpv6(text);
    char buf[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof buf), nullptr);
    EXPECT_EQ(FormatIp(ip), buf) << text;
    EXPECT_EQ(*ParseIpv6(FormatIp(ip)), ip) << text;
  }
  EXPECT_EQ(FormatIp(IpAddress::V4(192, 0, 2, 255)), "192.0.2.255");
}

TEST(AddressTest, FormatsEndpoints) {
  EXPECT_EQ(FormatEndpoint({IpAddress::V4(127, 0, 0, 1), 993}), "127.0.0.1:993");
  EXPECT_EQ(FormatEndpoint({*ParseIpv6("::1"), 143}), "[::1]:143");
}

}  // namespace
}  // namespace imapgate::proxyproto
