// Tests for proxyproto/encoder.h: exact bytes, and every encoding parsed back by the Parser.
#include "proxyproto/encoder.h"

#include <gtest/gtest.h>

#include "proxyproto/parser.h"

namespace imapgate::proxyproto {
namespace {

Endpoint E(const char* ip, uint16_t port) { return Endpoint{*ParseIp(ip), port}; }

std::string EncoderBytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

const std::string kEncoderSig = EncoderBytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});

TEST(EncoderTest, V2Ipv4Bytes) {
  std::string h = EncodeV2(E("192.0.2.1", 50000), E("10.0.0.2", 143));
  EXPECT_EQ(h, kEncoderSig + EncoderBytes({0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 1, 10, 0, 0, 2, 0xC3, 0x50, 0x00, 0x8F}));
}

TEST(EncoderTest, V2Ipv6Bytes) {
  std::string h = EncodeV2(E("2001:db8::1", 1), E("::1", 993));
  ASSERT_EQ(h.size(), 52u);
  EXPECT_EQ(h.substr(0, 16), kEncoderSig + EncoderBytes({0x21, 0x21, 0x00, 0x24}));
  EXPECT_EQ(h.substr(16, 16), EncoderBytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(h.substr(32, 16), EncoderBytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(h.substr(48), EncoderBytes({0x00, 0x01, 0x03, 0xE1}));
}

TEST(EncoderTest, V2LocalBytes) { EXPECT_EQ(EncodeV2Local(), kEncoderSig + EncoderBytes({0x20, 0x00, 0x00, 0x00})); }

TEST(EncoderTest, V1Text) {
  EXPECT_EQ(EncodeV1(E("192.0.2.1", 50000), E("10.0.0.2", 143)), "PROXY TCP4 192.0.2.1 10.0.0.2 50000 143\r\n");
  EXPECT_EQ(EncodeV1(E("2001:db8::1", 0), E("::1", 65535)), "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n");
}

TEST(EncoderTest, MappedIpv4IsWrittenAsIpv4) {
  EXPECT_EQ(EncodeV2(E("::ffff:192.0.2.1", 5), E("10.0.0.2", 6)), EncodeV2(E("192.0.2.1", 5), E("10.0.0.2", 6)));
  EXPECT_EQ(EncodeV1(E("::ffff:192.0.2.1", 5), E("::ffff:10.0.0.2", 6)), "PROXY TCP4 192.0.2.1 10.0.0.2 5 6\r\n");
}

TEST(EncoderTest, MixedFamiliesUseIpv6) {
  std::string h = EncodeV2(E("192.0.2.1", 5), E("2001:db8::2", 6));
  EXPECT_EQ(static_cast<uint8_t>(h[13]), 0x21);
  Result r = ParseHeader(h);
  ASSERT_EQ(r.outcome, Outcome::kDone);
  EXPECT_EQ(r.header.source.ip, *ParseIp("::ffff:192.0.2.1"));
  EXPECT_EQ(EncodeV1(E("192.0.2.1", 5), E("2001:db8::2", 6)), "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 5 6\r\n");
}

TEST(EncoderTest, RoundTripsThroughTheParser) {
  const Endpoint pairs[][2] = {{E("192.0.2.1", 50000), E("10.0.0.2", 143)},
                               {E("0.0.0.0", 0), E("255.255.255.255", 65535)},
                               {E("2001:db8::1", 1234), E("fe80::1:2", 993)},
                               {E("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535), E("::", 0)}};
  for (const auto& p : pairs) {
    for (int version : {1, 2}) {
      std::string h = version == 1 ? EncodeV1(p[0], p[1]) : EncodeV2(p[0], p[1]);
      Result r = ParseHeader(h + "a1 CAPABILITY\r\n");
      ASSERT_EQ(r.outcome, Outcome::kDone) << version << " " << FormatEndpoint(p[0]);
      EXPECT_EQ(r.header.version, version);
      EXPECT_EQ(r.header.length, h.size());
      EXPECT_FALSE(r.header.local);
      EXPECT_EQ(r.header.source, p[0]);
      EXPECT_EQ(r.header.destination, p[1]);
      EXPECT_LE(h.size(), version == 1 ? kV1MaxLength : kV2FixedLength + 36);
    }
  }
  Result local = ParseHeader(EncodeV2Local());
  ASSERT_EQ(local.outcome, Outcome::kDone);
  EXPECT_TRUE(local.header.local);
  EXPECT_EQ(local.header.length, 16u);
}

}  // namespace
}  // namespace imapgate::proxyproto
