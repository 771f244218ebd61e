// Keys and fingerprints: subnets (v4, v6, mapped, clamped prefixes), user normalization and its
// bound, fingerprint stability and key / domain separation.
#include "ratelimit/keys.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace imapgate::ratelimit {
namespace {

using proxyproto::IpAddress;

IpAddress Ip(const char* text) {
  auto ip = proxyproto::ParseIp(text);
  EXPECT_TRUE(ip) << text;
  return ip.value_or(IpAddress{});
}

TEST(SubnetKeyTest, Ipv4) {
  EXPECT_EQ(SubnetKey(Ip("192.0.2.7"), 24, 64), "192.0.2.0/24");
  EXPECT_EQ(SubnetKey(Ip("192.0.2.255"), 24, 64), "192.0.2.0/24");
  EXPECT_EQ(SubnetKey(Ip("192.0.2.7"), 16, 64), "192.0.0.0/16");
  EXPECT_EQ(SubnetKey(Ip("10.255.255.255"), 13, 64), "10.248.0.0/13");
  EXPECT_EQ(SubnetKey(Ip("192.0.2.7"), 32, 64), "192.0.2.7/32");
  EXPECT_EQ(SubnetKey(Ip("192.0.2.7"), 0, 64), "0.0.0.0/0");
}

TEST(SubnetKeyTest, Ipv6) {
  EXPECT_EQ(SubnetKey(Ip("2001:db8::1"), 24, 64), "2001:db8::/64");
  EXPECT_EQ(SubnetKey(Ip("2001:db8:1:2:3:4:5:6"), 24, 64), "2001:db8:1:2::/64");
  EXPECT_EQ(SubnetKey(Ip("2001:db8:1:2ff:3:4:5:6"), 24, 56), "2001:db8:1:200::/56");
  EXPECT_EQ(SubnetKey(Ip("2001:db8::1"), 24, 128), "2001:db8::1/128");
  EXPECT_EQ(SubnetKey(Ip("2001:db8::1"), 24, 0), "::/0");
}

TEST(SubnetKeyTest, MappedIpv4CountsAsIpv4) {
  EXPECT_EQ(SubnetKey(Ip("::ffff:192.0.2.7"), 24, 64), "192.0.2.0/24");
  EXPECT_EQ(SubnetKey(Ip("::ffff:192.0.2.7"), 24, 64), SubnetKey(Ip("192.0.2.99"), 24, 64));
}

TEST(SubnetKeyTest, PrefixesAreClamped) {
  EXPECT_EQ(SubnetKey(Ip("192.0.2.7"), 99, 64), "192.0.2.7/32");
  EXPECT_EQ(SubnetKey(Ip("192.0.2.7"), -5, 64), "0.0.0.0/0");
  EXPECT_EQ(SubnetKey(Ip("2001:db8::1"), 24, 500), "2001:db8::1/128");
  EXPECT_EQ(SubnetKey(Ip("2001:db8::1"), 24, -1), "::/0");
}

TEST(NormalizedUserTest, LowerCaseAsciiOnly) {
  EXPECT_EQ(NormalizedUser("Alice@Demo.TEST"), "alice@demo.test");
  EXPECT_EQ(NormalizedUser("\xC3\x89MILE"), "\xC3\x89mile");  // non-ASCII bytes kept
  EXPECT_EQ(NormalizedUser(""), "");
}

TEST(NormalizedUserTest, CutAt256Bytes) {
  EXPECT_EQ(NormalizedUser(std::string(256, 'A')), std::string(256, 'a'));
  EXPECT_EQ(NormalizedUser(std::string(10'000, 'B')), std::string(256, 'b'));
}

TEST(MakeLoginKeysTest, AllThreeKeys) {
  LoginKeys k = MakeLoginKeys(Ip("192.0.2.7"), "Alice@Demo.Test", 24, 64);
  EXPECT_EQ(k.address, "192.0.2.7");
  EXPECT_EQ(k.subnet, "192.0.2.0/24");
  EXPECT_EQ(k.user, "alice@demo.test");
  // The same client over an IPv6 socket is the same address.
  LoginKeys m = MakeLoginKeys(Ip("::ffff:192.0.2.7"), "alice@demo.test", 24, 64);
  EXPECT_EQ(m.address, k.address);
  EXPECT_EQ(m.subnet, k.subnet);
  LoginKeys v6 = MakeLoginKeys(Ip("2001:db8::1"), "bob", 24, 64);
  EXPECT_EQ(v6.address, "2001:db8::1");
  EXPECT_EQ(v6.subnet, "2001:db8::/64");
}

std::array<uint8_t, 32> Key(uint8_t fill) {
  std::array<uint8_t, 32> k;
  k.fill(fill);
  return k;
}

TEST(FingerprinterTest, StableUnderOneKey) {
  Fingerprinter a(Key(1));
  Fingerprinter b(Key(1));
  const SecretString pw("hunter2");
  EXPECT_EQ(a.Password("alice", pw), a.Password("alice", pw));
  EXPECT_EQ(a.Password("alice", pw), b.Password("alice", pw));  // a fleet sharing the key
  EXPECT_EQ(a.User("alice"), b.User("alice"));
  EXPECT_NE(a.Password("alice", pw), 0u);
  EXPECT_NE(a.User("alice"), 0u);
}

TEST(FingerprinterTest, DifferentKeysDiffer) {
  Fingerprinter a(Key(1));
  Fingerprinter b(Key(2));
  const SecretString pw("hunter2");
  EXPECT_NE(a.Password("alice", pw), b.Password("alice", pw));
  EXPECT_NE(a.User("alice"), b.User("alice"));
  Fingerprinter r1;
  Fingerprinter r2;  // fresh random keys
  EXPECT_NE(r1.User("alice"), r2.User("alice"));
}

TEST(FingerprinterTest, SeparatesPasswordsUsersAndFraming) {
  Fingerprinter f(Key(7));
  EXPECT_NE(f.Password("alice", SecretString("a")), f.Password("alice", SecretString("b")));
  EXPECT_NE(f.Password("alice", SecretString("pw")), f.Password("bob", SecretString("pw")));
  // Framing: ("ab", "c") is not ("a", "bc").
  EXPECT_NE(f.Password("ab", SecretString("c")), f.Password("a", SecretString("bc")));
  // Domain separation: a user's fingerprint is not the password fingerprint of anything
  // obvious built from it.
  EXPECT_NE(f.User("alice"), f.Password("alice", SecretString("")));
  EXPECT_NE(f.User("alice"), f.Password("", SecretString("alice")));
}

TEST(FingerprinterTest, SpreadOverManyInputs) {
  Fingerprinter f(Key(3));
  std::set<uint32_t> seen;
  for (int i = 0; i < 2000; ++i) seen.insert(f.User("user" + std::to_string(i)));
  EXPECT_GE(seen.size(), 1999u);  // 32-bit values: a collision in 2000 is ~0.05% likely
}

}  // namespace
}  // namespace imapgate::ratelimit
