// Tests for proxyproto/cidr.h: parsing, matching (IPv4-mapped as IPv4), the list bound, errors.
#include "proxyproto/cidr.h"

#include <gtest/gtest.h>

namespace imapgate::proxyproto {
namespace {

IpAddress Ip(const char* text) { return *ParseIp(text); }

Cidr C(const char* text) {
  auto c = Cidr::Parse(text);
  EXPECT_TRUE(c.ok()) << text << ": " << c.status().message();
  return *c;
}

TEST(CidrTest, MatchesIpv4Ranges) {
  Cidr c = C("10.0.0.0/8");
  EXPECT_TRUE(c.Contains(Ip("10.0.0.0")));
  EXPECT_TRUE(c.Contains(Ip("10.255.255.255")));
  EXPECT_FALSE(c.Contains(Ip("11.0.0.0")));
  EXPECT_FALSE(c.Contains(Ip("9.255.255.255")));
  Cidr odd = C("192.168.4.0/22");
  EXPECT_TRUE(odd.Contains(Ip("192.168.7.255")));
  EXPECT_FALSE(odd.Contains(Ip("192.168.8.0")));
  EXPECT_FALSE(odd.Contains(Ip("192.168.3.255")));
}

TEST(CidrTest, BareAddressIsAHostRange) {
  Cidr c = C("127.0.0.1");
  EXPECT_EQ(c.ToString(), "127.0.0.1/32");
  EXPECT_TRUE(c.Contains(Ip("127.0.0.1")));
  EXPECT_FALSE(c.Contains(Ip("127.0.0.2")));
  Cidr six = C("::1");
  EXPECT_EQ(six.ToString(), "::1/128");
  EXPECT_TRUE(six.Contains(Ip("::1")));
  EXPECT_FALSE(six.Contains(Ip("::2")));
  EXPECT_FALSE(six.Contains(Ip("0.0.0.1")));
}

TEST(CidrTest, MatchesIpv6Ranges) {
  Cidr c = C("2001:db8::/32");
  EXPECT_TRUE(c.Contains(Ip("2001:db8:ffff::1")));
  EXPECT_FALSE(c.Contains(Ip("2001:db9::1")));
  EXPECT_FALSE(c.Contains(Ip("32.1.13.184")));  // the same leading bytes, but IPv4
  Cidr odd = C("fe80::/10");
  EXPECT_TRUE(odd.Contains(Ip("febf::1")));
  EXPECT_FALSE(odd.Contains(Ip("fec0::1")));
}

TEST(CidrTest, Ipv4MappedIsIpv4) {
  // A client seen as ::ffff:10.1.2.3 (a dual-stack socket) matches an IPv4 range.
  EXPECT_TRUE(C("10.0.0.0/8").Contains(Ip("::ffff:10.1.2.3")));
  EXPECT_FALSE(C("10.0.0.0/8").Contains(Ip("::ffff:11.1.2.3")));
  // A mapped range is an IPv4 range.
  Cidr mapped = C("::ffff:10.0.0.0/104");
  EXPECT_EQ(mapped.ToString(), "10.0.0.0/8");
  EXPECT_TRUE(mapped.Contains(Ip("10.9.9.9")));
  EXPECT_FALSE(mapped.Contains(Ip("11.0.0.0")));
  EXPECT_EQ(C("::ffff:127.0.0.1").ToString(), "127.0.0.1/32");
  // Not every IPv6 address with those low bytes is mapped.
  EXPECT_FALSE(C("10.0.0.0/8").Contains(Ip("::10.1.2.3")));
}

TEST(CidrTest, ZeroPrefixes) {
  EXPECT_TRUE(C("0.0.0.0/0").Contains(Ip("203.0.113.7")));
  EXPECT_FALSE(C("0.0.0.0/0").Contains(Ip("2001:db8::1")));
  EXPECT_TRUE(C("::/0").Contains(Ip("2001:db8::1")));
  EXPECT_TRUE(C("::/0").Contains(Ip("203.0.113.7")));  // as ::ffff:203.0.113.7
}

TEST(CidrTest, RefusesBadRangesWithAClearMessage) {
  struct Case { const char* text; const char* why; };
  for (const Case& c : {Case{"", "empty"},
                        Case{"10.0.0.0/33", "prefix length must be 0..32"},
                        Case{"::/129", "prefix length must be 0..128"},
                        Case{"10.0.0.0/", "prefix length must be a number"},
                        Case{"10.0.0.0/08", "prefix length must be a number"},
                        Case{"10.0.0.0/-1", "prefix length must be a number"},
                        Case{"10.0.0.0/8/8", "prefix length must be a number"},
                        Case{"10.0.0.0/1000", "prefix length must be a number"},
                        Case{"10.0.0/8", "not an IPv4 or IPv6 address"},
                        Case{"localhost", "not an IPv4 or IPv6 address"},
                        Case{" 10.0.0.0/8", "not an IPv4 or IPv6 address"},
                        Case{"10.0.0.1/8", "bits set past the prefix"},
                        Case{"2001:db8::1/32", "bits set past the prefix"}}) {
    auto r = Cidr::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::string("bad CIDR '") + c.text + "'"), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find(c.why), std::string::npos) << r.status().message();
  }
}

TEST(CidrTest, LongOrBinaryTextIsCutInTheMessage) {
  std::string text(1000, 'x');
  text[3] = '\n';
  auto r = Cidr::Parse(text);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.status().message().size(), 150u);
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
}

TEST(CidrListTest, MatchesAnyEntry) {
  auto list = CidrList::Parse({"10.0.0.0/8", "192.0.2.7", "2001:db8::/48"});
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->size(), 3u);
  EXPECT_TRUE(list->Contains(Ip("10.2.3.4")));
  EXPECT_TRUE(list->Contains(Ip("192.0.2.7")));
  EXPECT_TRUE(list->Contains(Ip("::ffff:192.0.2.7")));
  EXPECT_TRUE(list->Contains(Ip("2001:db8:0:1::5")));
  EXPECT_FALSE(list->Contains(Ip("192.0.2.8")));
  EXPECT_FALSE(list->Contains(Ip("2001:db8:1::5")));
}

TEST(CidrListTest, EmptyTrustsNobody) {
  CidrList empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_FALSE(empty.Contains(Ip("127.0.0.1")));
  auto parsed = CidrList::Parse({});
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->Contains(Ip("::1")));
}

TEST(CidrListTest, NamesTheBadEntry) {
  auto list = CidrList::Parse({"10.0.0.0/8", "10.0.0.0/99"});
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("entry 2: bad CIDR '10.0.0.0/99'"), std::string::npos)
      << list.status().message();
}

TEST(CidrListTest, IsBounded) {
  std::vector<std::string> entries(CidrList::kMaxEntries, "10.0.0.0/8");
  EXPECT_TRUE(CidrList::Parse(entries).ok());
  entries.push_back("10.0.0.0/8");
  auto list = CidrList::Parse(entries);
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("too many CIDR ranges: 1025 (at most 1024)"), std::string::npos)
      << list.status().message();
}

}  // namespace
}  // namespace imapgate::proxyproto
