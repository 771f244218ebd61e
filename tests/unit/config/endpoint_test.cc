#include "config/endpoint.h"

#include <gtest/gtest.h>

namespace imapgate::config {
namespace {

TEST(ParseEndpointTest, AcceptsIpv4HostNameAndBracketedIpv6) {
  StatusOr<Endpoint> e = ParseEndpoint("127.0.0.1:993", false);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 993);

  e = ParseEndpoint("mail.example.com:143", false);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->host, "mail.example.com");
  EXPECT_EQ(e->port, 143);

  e = ParseEndpoint("[::1]:65535", false);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 65535);

  e = ParseEndpoint("[::]:1", false);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->host, "::");
}

TEST(ParseEndpointTest, PortZeroOnlyWhenAllowed) {
  EXPECT_EQ(ParseEndpoint("127.0.0.1:0", false).status().message(),
            "invalid address '127.0.0.1:0': port must be a number 1..65535");
  StatusOr<Endpoint> e = ParseEndpoint("127.0.0.1:0", true);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->port, 0);
}

TEST(ParseEndpointTest, RejectsBadPorts) {
  for (const char* text : {"h:65536", "h:", "h:-1", "h:+1", "h:1x", "h:999999", "h: 1"}) {
    EXPECT_FALSE(ParseEndpoint(text, true).ok()) << text;
  }
}

TEST(ParseEndpointTest, RejectsBadHosts) {
  EXPECT_EQ(ParseEndpoint("::1:993", false).status().message(),
            "invalid address '::1:993': IPv6 addresses must be in brackets, e.g. [::1]:993");
  EXPECT_EQ(ParseEndpoint(":993", false).status().message(),
            "invalid address ':993': missing host (use 0.0.0.0 or [::] for all interfaces)");
  EXPECT_EQ(ParseEndpoint("localhost", false).status().message(),
            "invalid address 'localhost': expected host:port");
  EXPECT_EQ(ParseEndpoint("127.0.0.256:1", false).status().message(),
            "invalid address '127.0.0.256:1': '127.0.0.256' is not an IPv4 address");
  EXPECT_EQ(ParseEndpoint("[::g]:1", false).status().message(),
            "invalid address '[::g]:1': '::g' is not an IPv6 address");
  EXPECT_EQ(ParseEndpoint("[::1:1", false).status().message(),
            "invalid address '[::1:1': missing ']' after the IPv6 address");
  EXPECT_EQ(ParseEndpoint("[::1]993", false).status().message(),
            "invalid address '[::1]993': expected [IPv6]:port");
  for (const char* text :
       {"-bad.example:1", "bad-.example:1", "a..b:1", "a_b:1", "a b:1", "[127.0.0.1]:1"}) {
    EXPECT_FALSE(ParseEndpoint(text, false).ok()) << text;
  }
}

TEST(FormatEndpointTest, BracketsIpv6) {
  EXPECT_EQ(FormatEndpoint({"::1", 993}), "[::1]:993");
  EXPECT_EQ(FormatEndpoint({"127.0.0.1", 143}), "127.0.0.1:143");
}

}  // namespace
}  // namespace imapgate::config
