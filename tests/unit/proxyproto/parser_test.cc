// Tests for proxyproto/parser.h: every field of v1 and v2, LOCAL/UNKNOWN/AF_UNSPEC, TLV
// skipping, every bound and every refusal reason, and that feeding byte by byte (or split at any
// point) gives exactly the answer of feeding everything at once.
#include "proxyproto/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace imapgate::proxyproto {
namespace {

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

const std::string kSig = Bytes({0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A});

// The 16-byte v2 fixed part.
std::string V2(int ver_cmd, int fam, size_t len) {
  return kSig + Bytes({ver_cmd, fam, static_cast<int>(len >> 8), static_cast<int>(len & 0xff)});
}

const std::string kV2Ipv4Body = Bytes({192, 0, 2, 1, 10, 0, 0, 2, 0xC3, 0x50, 0x00, 0x8F});

bool SameResult(const Result& a, const Result& b) {
  return a.outcome == b.outcome && a.error == b.error && a.need_at_least == b.need_at_least &&
         a.header.version == b.header.version && a.header.length == b.header.length &&
         a.header.local == b.header.local && a.header.source == b.header.source &&
         a.header.destination == b.header.destination && a.header.tlv_count == b.header.tlv_count;
}

// Parses `input` at once, then byte by byte and split in two at every point: same answer,
// decided at the same byte.
Result ParseChecked(const std::string& input, Limits limits = {}) {
  Parser whole(limits);
  Result expected = whole.Feed(input);
  Parser bytewise(limits);
  Result r = bytewise.Feed("");
  for (size_t i = 0; i < input.size(); ++i) {
    const bool was_open = r.outcome == Outcome::kNeedMore;
    r = bytewise.Feed(input.substr(i, 1));
    if (was_open && r.outcome != Outcome::kNeedMore) {
      EXPECT_EQ(bytewise.consumed(), i + 1) << "decided at a byte it never saw";
    }
  }
  EXPECT_TRUE(SameResult(r, expected)) << "byte-at-a-time differs";
  EXPECT_EQ(bytewise.consumed(), whole.consumed());
  for (size_t cut = 1; cut < input.size(); ++cut) {
    Parser split(limits);
    Result first = split.Feed(input.substr(0, cut));
    Result second = split.Feed(input.substr(cut));
    EXPECT_TRUE(SameResult(second, expected)) << "split at " << cut << " differs";
    if (expected.outcome == Outcome::kDone && first.outcome == Outcome::kNeedMore) {
      EXPECT_GE(input.size(), cut + first.need_at_least) << "need_at_least overstated at " << cut;
    }
  }
  return expected;
}

Result Done(const std::string& input, Limits limits = {}) {
  Result r = ParseChecked(input, limits);
  EXPECT_EQ(r.outcome, Outcome::kDone) << (r.outcome == Outcome::kInvalid ? ErrorReason(r.error) : "need more");
  return r;
}

void ExpectRefused(const std::string& input, Error error, Limits limits = {}) {
  Result r = ParseChecked(input, limits);
  EXPECT_EQ(r.outcome, Outcome::kInvalid) << "input: " << input;
  EXPECT_EQ(r.error, error) << "input: " << input << " got " << ErrorReason(r.error);
}

// ---- v1 ----

TEST(ParserV1Test, Tcp4EveryField) {
  Result r = Done("PROXY TCP4 192.0.2.1 10.0.0.2 50000 143\r\na1 LOGIN");
  EXPECT_EQ(r.header.version, 1);
  EXPECT_EQ(r.header.length, 41u);
  EXPECT_FALSE(r.header.local);
  EXPECT_EQ(r.header.source.ip, IpAddress::V4(192, 0, 2, 1));
  EXPECT_EQ(r.header.source.port, 50000);
  EXPECT_EQ(r.header.destination.ip, IpAddress::V4(10, 0, 0, 2));
  EXPECT_EQ(r.header.destination.port, 143);
  EXPECT_EQ(r.need_at_least, 0u);
}

TEST(ParserV1Test, Tcp6EveryField) {
  Result r = Done("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.2 0 65535\r\n");
  EXPECT_EQ(r.header.version, 1);
  EXPECT_FALSE(r.header.local);
  EXPECT_EQ(r.header.source.ip, *ParseIpv6("2001:db8::1"));
  EXPECT_EQ(r.header.source.port, 0);
  EXPECT_EQ(r.header.destination.ip, *ParseIpv6("::ffff:10.0.0.2"));
  EXPECT_EQ(r.header.destination.port, 65535);
}

TEST(ParserV1Test, LongestLinesAreAccepted) {
  std::string a = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  std::string tcp6 = "PROXY TCP6 " + a + " " + a + " 65535 65535\r\n";
  EXPECT_EQ(Done(tcp6).header.length, 104u);
  // The spec's worst case (UNKNOWN followed by the longest fields) is exactly the bound.
  std::string unknown = "PROXY UNKNOWN " + a + " " + a + " 65535 65535\r\n";
  ASSERT_EQ(unknown.size(), kV1MaxLength);
  EXPECT_EQ(Done(unknown).header.length, kV1MaxLength);
  // Two mapped addresses in their longest form do not fit in 107 bytes.
  std::string m = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
  ExpectRefused("PROXY TCP6 " + m + " " + m + " 65535 65535\r\n", Error::kV1TooLong);
}

TEST(ParserV1Test, UnknownIsLocal) {
  Result r = Done("PROXY UNKNOWN\r\n");
  EXPECT_TRUE(r.header.local);
  EXPECT_EQ(r.header.length, 15u);
  EXPECT_EQ(r.header.source, Endpoint{});
  // Anything after UNKNOWN up to CRLF is ignored.
  Result r2 = Done("PROXY UNKNOWN ffff:: whatever \x01\xff\r\nrest");
  EXPECT_TRUE(r2.header.local);
  EXPECT_EQ(r2.header.length, 34u);
}

TEST(ParserV1Test, BoundIs107BytesWithCrlf) {
  std::string pad = "PROXY UNKNOWN ";
  std::string at_bound = pad + std::string(kV1MaxLength - pad.size() - 2, 'x') + "\r\n";
  ASSERT_EQ(at_bound.size(), 107u);
  EXPECT_EQ(Done(at_bound).header.length, 107u);
  // One byte more: refused at byte 107, without waiting for the CRLF.
  std::string over = pad + std::string(kV1MaxLength - pad.size() - 1, 'x') + "\r\n";
  ExpectRefused(over, Error::kV1TooLong);
  Parser p;
  EXPECT_EQ(p.Feed(over.substr(0, 106)).outcome, Outcome::kNeedMore);
  EXPECT_EQ(p.Feed(over.substr(106, 1)).error, Error::kV1TooLong);
  EXPECT_EQ(p.consumed(), 107u);
  // CR as the 107th byte leaves no room for the LF.
  ExpectRefused(pad + std::string(kV1MaxLength - pad.size() - 1, 'x') + "\r", Error::kV1TooLong);
}

TEST(ParserV1Test, RefusesBadSignature) {
  ExpectRefused("a1 LOGIN user pass\r\n", Error::kBadSignature);
  ExpectRefused("PROXZ TCP4", Error::kBadSignature);
  ExpectRefused("proxy TCP4", Error::kBadSignature);
  ExpectRefused("PROXY\tTCP4", Error::kBadSignature);
  ExpectRefused("PROXY\r\n", Error::kBadSignature);
  ExpectRefused(std::string("\x16\x03\x01\x02\x00", 5), Error::kBadSignature);  // a TLS ClientHello
  // Refused at the first byte that cannot start a header.
  Parser p;
  EXPECT_EQ(p.Feed("GET / HTTP/1.0").outcome, Outcome::kInvalid);
  EXPECT_EQ(p.consumed(), 1u);
}

TEST(ParserV1Test, RefusesBadLineEnds) {
  ExpectRefused("PROXY UNKNOWN\r\r", Error::kV1BadLineEnd);
  ExpectRefused("PROXY UNKNOWN\n", Error::kV1BadLineEnd);
  ExpectRefused("PROXY UNKNOWN x\ny\r\n", Error::kV1BadLineEnd);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", Error::kV1BadLineEnd);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx", Error::kV1BadLineEnd);
}

TEST(ParserV1Test, RefusesUnknownProtocols) {
  ExpectRefused("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", Error::kV1UnknownProtocol);
  ExpectRefused("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", Error::kV1UnknownProtocol);
  ExpectRefused("PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", Error::kV1UnknownProtocol);
  ExpectRefused("PROXY UNKNOWNX\r\n", Error::kV1UnknownProtocol);  // refused at the 8th letter
  ExpectRefused("PROXY TCP\r\n", Error::kV1UnknownProtocol);
  ExpectRefused("PROXY TCP4:", Error::kV1UnknownProtocol);
}

TEST(ParserV1Test, RefusesMalformedLines) {
  ExpectRefused("PROXY \r\n", Error::kV1Malformed);
  ExpectRefused("PROXY  TCP4", Error::kV1Malformed);
  ExpectRefused("PROXY TCP4\r\n", Error::kV1Malformed);
  ExpectRefused("PROXY TCP4  1.2.3.4", Error::kV1Malformed);
  ExpectRefused("PROXY TCP4 1.2.3.4\r\n", Error::kV1Malformed);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8\r\n", Error::kV1Malformed);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", Error::kV1Malformed);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", Error::kV1Malformed);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", Error::kV1Malformed);
}

TEST(ParserV1Test, RefusesBadAddresses) {
  ExpectRefused("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", Error::kV1BadSourceAddress);
  ExpectRefused("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n", Error::kV1BadSourceAddress);
  ExpectRefused("PROXY TCP4 ::1 5.6.7.8 1 2\r\n", Error::kV1BadSourceAddress);  // family mismatch
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.08 1 2\r\n", Error::kV1BadDestinationAddress);
  ExpectRefused("PROXY TCP4 1.2.3.4 localhost 1 2\r\n", Error::kV1BadDestinationAddress);
  ExpectRefused("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", Error::kV1BadSourceAddress);
  ExpectRefused("PROXY TCP6 ::1 ::g 1 2\r\n", Error::kV1BadDestinationAddress);
  ExpectRefused("PROXY TCP6 ::1 1::2::3 1 2\r\n", Error::kV1BadDestinationAddress);
  // Longer than any address: refused at the byte past the longest form.
  std::string long_v4 = "PROXY TCP4 " + std::string(16, '1');
  ExpectRefused(long_v4, Error::kV1BadSourceAddress);
  Parser p;
  EXPECT_EQ(p.Feed(long_v4).outcome, Outcome::kInvalid);
  EXPECT_EQ(p.consumed(), long_v4.size());
  ExpectRefused("PROXY TCP6 ::1 " + std::string(46, 'f'), Error::kV1BadDestinationAddress);
}

TEST(ParserV1Test, RefusesBadPorts) {
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", Error::kV1BadSourcePort);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", Error::kV1BadSourcePort);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", Error::kV1BadSourcePort);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n", Error::kV1BadSourcePort);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 1 1a\r\n", Error::kV1BadDestinationPort);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", Error::kV1BadDestinationPort);
  ExpectRefused("PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", Error::kV1BadDestinationPort);
  Done("PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n");
}

TEST(ParserV1Test, NeedMoreWhilePartial) {
  Parser p;
  Result r = p.Feed("");
  EXPECT_EQ(r.outcome, Outcome::kNeedMore);
  EXPECT_EQ(r.need_at_least, 15u);  // no header is shorter than "PROXY UNKNOWN\r\n"
  r = p.Feed("PROXY UNKNOWN\r");
  EXPECT_EQ(r.outcome, Outcome::kNeedMore);
  EXPECT_EQ(r.need_at_least, 1u);
  EXPECT_EQ(p.consumed(), 14u);
}

// ---- v2 ----

TEST(ParserV2Test, Ipv4EveryField) {
  Result r = Done(V2(0x21, 0x11, 12) + kV2Ipv4Body + "\x16\x03\x01");
  EXPECT_EQ(r.header.version, 2);
  EXPECT_EQ(r.header.length, 28u);
  EXPECT_FALSE(r.header.local);
  EXPECT_EQ(r.header.source, (Endpoint{IpAddress::V4(192, 0, 2, 1), 50000}));
  EXPECT_EQ(r.header.destination, (Endpoint{IpAddress::V4(10, 0, 0, 2), 143}));
  EXPECT_EQ(r.header.tlv_count, 0u);
}

TEST(ParserV2Test, Ipv6EveryField) {
  std::string body = Bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
                            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x02, 0x03, 0xE1});
  Result r = Done(V2(0x21, 0x21, 36) + body);
  EXPECT_EQ(r.header.length, 52u);
  EXPECT_EQ(r.header.source, (Endpoint{*ParseIpv6("2001:db8::7"), 0x0102}));
  EXPECT_EQ(r.header.destination, (Endpoint{*ParseIpv6("::1"), 993}));
}

TEST(ParserV2Test, LocalUsesTheSocketAddress) {
  Result r = Done(V2(0x20, 0x00, 0));
  EXPECT_TRUE(r.header.local);
  EXPECT_EQ(r.header.length, 16u);
  // LOCAL ignores the family and discards the whole block, addresses and TLVs included.
  Result r2 = Done(V2(0x20, 0x11, 12) + kV2Ipv4Body);
  EXPECT_TRUE(r2.header.local);
  EXPECT_EQ(r2.header.length, 28u);
  EXPECT_EQ(r2.header.source, Endpoint{});
  Result r3 = Done(V2(0x20, 0xF5, 3) + "abc");  // even an unknown family
  EXPECT_TRUE(r3.header.local);
}

TEST(ParserV2Test, ProxyOverUnspecIsLocal) {
  Result r = Done(V2(0x21, 0x00, 5) + "xxxxx");
  EXPECT_TRUE(r.header.local);
  EXPECT_EQ(r.header.length, 21u);
}

TEST(ParserV2Test, SkipsTlvs) {
  std::string tlvs = Bytes({0x01, 0x00, 0x04}) + "imap" +          // ALPN
                     Bytes({0x04, 0x00, 0x00}) +                   // NOOP, empty
                     Bytes({0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0}); // SSL
  Result r = Done(V2(0x21, 0x11, 12 + tlvs.size()) + kV2Ipv4Body + tlvs + "a1 NOOP\r\n");
  EXPECT_EQ(r.header.tlv_count, 3u);
  EXPECT_EQ(r.header.length, 16 + 12 + tlvs.size());
  EXPECT_EQ(r.header.source.port, 50000);
}

TEST(ParserV2Test, RefusesTlvsPastTheEnd) {
  // A TLV whose value runs past the block: refused once its length is known.
  std::string over = V2(0x21, 0x11, 12 + 5) + kV2Ipv4Body + Bytes({0x01, 0x00, 0x03, 'i', 'm'});
  ExpectRefused(over, Error::kV2BadTlv);
  Parser p;
  EXPECT_EQ(p.Feed(over.substr(0, 31)).outcome, Outcome::kInvalid);
  EXPECT_EQ(p.consumed(), 31u);
  // A block that ends inside a TLV's type and length.
  ExpectRefused(V2(0x21, 0x11, 14) + kV2Ipv4Body + Bytes({0x01, 0x00}), Error::kV2BadTlv);
  ExpectRefused(V2(0x21, 0x11, 13) + kV2Ipv4Body + Bytes({0x01}), Error::kV2BadTlv);
}

TEST(ParserV2Test, LengthBoundDefaultsTo512) {
  std::string tlv512 = Bytes({0x04, 0x01, 0xF1}) + std::string(497, 'n');  // 12 + 3 + 497 = 512
  Result r = Done(V2(0x21, 0x11, 512) + kV2Ipv4Body + tlv512);
  EXPECT_EQ(r.header.length, 528u);
  // 513 is refused as soon as the length field is read.
  std::string over = V2(0x21, 0x11, 513);
  ExpectRefused(over, Error::kV2TooLong);
  Parser p;
  EXPECT_EQ(p.Feed(over + std::string(513, 'x')).error, Error::kV2TooLong);
  EXPECT_EQ(p.consumed(), 16u);
  EXPECT_EQ(p.max_header_length(), 528u);
}

TEST(ParserV2Test, LengthBoundIsConfigurableAndClamped) {
  Limits big{1024};
  std::string tlv = Bytes({0x04, 0x02, 0xF1}) + std::string(0x2F1, 'n');
  Done(V2(0x21, 0x11, 12 + tlv.size()) + kV2Ipv4Body + tlv, big);
  ExpectRefused(V2(0x21, 0x11, 12 + tlv.size()) + kV2Ipv4Body + tlv, Error::kV2TooLong);
  ExpectRefused(V2(0x21, 0x11, 1025), Error::kV2TooLong, big);
  EXPECT_EQ(Parser(Limits{1'000'000}).max_header_length(), kV2FixedLength + kV2MaxBodyCap);
  EXPECT_EQ(Parser(Limits{0}).max_header_length(), kV1MaxLength);
  ExpectRefused(V2(0x21, 0x11, 37), Error::kV2TooLong, Limits{0});  // clamped to 36
  ExpectRefused(V2(0x21, 0x11, 0xFFFF), Error::kV2TooLong, Limits{1'000'000});
}

TEST(ParserV2Test, RefusesLengthTooShortForTheAddresses) {
  ExpectRefused(V2(0x21, 0x11, 11), Error::kV2TooShort);
  ExpectRefused(V2(0x21, 0x21, 35), Error::kV2TooShort);
  ExpectRefused(V2(0x21, 0x11, 0), Error::kV2TooShort);
}

TEST(ParserV2Test, RefusesBadVersionAndCommand) {
  ExpectRefused(V2(0x11, 0x11, 12), Error::kV2BadVersion);
  ExpectRefused(V2(0x31, 0x11, 12), Error::kV2BadVersion);
  ExpectRefused(V2(0x22, 0x11, 12), Error::kV2BadCommand);
  ExpectRefused(V2(0x2F, 0x11, 12), Error::kV2BadCommand);
}

TEST(ParserV2Test, RefusesFamiliesAndTransports) {
  ExpectRefused(V2(0x21, 0x41, 12) + kV2Ipv4Body, Error::kV2UnknownFamily);
  ExpectRefused(V2(0x21, 0xF1, 12) + kV2Ipv4Body, Error::kV2UnknownFamily);
  ExpectRefused(V2(0x21, 0x31, 216) + std::string(216, 0), Error::kV2UnsupportedFamily);  // AF_UNIX
  ExpectRefused(V2(0x21, 0x12, 12) + kV2Ipv4Body, Error::kV2UnsupportedTransport);        // DGRAM
  ExpectRefused(V2(0x21, 0x10, 12) + kV2Ipv4Body, Error::kV2UnsupportedTransport);        // UNSPEC
  ExpectRefused(V2(0x21, 0x23, 36), Error::kV2UnsupportedTransport);
  // Refused at the family byte.
  Parser p;
  EXPECT_EQ(p.Feed(V2(0x21, 0x41, 12)).outcome, Outcome::kInvalid);
  EXPECT_EQ(p.consumed(), 14u);
}

TEST(ParserV2Test, RefusesABrokenSignature) {
  for (size_t i = 1; i < 12; ++i) {
    std::string h = V2(0x21, 0x11, 12) + kV2Ipv4Body;
    h[i] = static_cast<char>(h[i] ^ 0x20);
    ExpectRefused(h, Error::kBadSignature);
    Parser p;
    p.Feed(h);
    EXPECT_EQ(p.consumed(), i + 1) << "refused at the first wrong byte";
  }
}

TEST(ParserV2Test, NeedMoreKnowsTheLength) {
  std::string h = V2(0x21, 0x11, 12) + kV2Ipv4Body;
  Parser p;
  Result r = p.Feed(h.substr(0, 10));
  EXPECT_EQ(r.outcome, Outcome::kNeedMore);
  EXPECT_EQ(r.need_at_least, 6u);
  r = p.Feed(h.substr(10, 6));
  EXPECT_EQ(r.need_at_least, 12u);
  r = p.Feed(h.substr(16, 11));
  EXPECT_EQ(r.need_at_least, 1u);
  r = p.Feed(h.substr(27));
  EXPECT_EQ(r.outcome, Outcome::kDone);
}

// ---- both ----

TEST(ParserTest, StopsAtTheEndOfTheHeaderAndKeepsItsAnswer) {
  std::string h = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
  Parser p;
  Result r = p.Feed(h + "a1 LOGIN");
  ASSERT_EQ(r.outcome, Outcome::kDone);
  EXPECT_EQ(p.consumed(), h.size());
  Result again = p.Feed("PROXY garbage");
  EXPECT_TRUE(SameResult(again, r));
  EXPECT_EQ(p.consumed(), h.size());
  EXPECT_TRUE(SameResult(p.result(), r));

  Parser bad;
  Result b = bad.Feed("XPROXY");
  ASSERT_EQ(b.outcome, Outcome::kInvalid);
  EXPECT_TRUE(SameResult(bad.Feed(h), b));
  EXPECT_EQ(bad.consumed(), 1u);
}

TEST(ParserTest, EveryReasonHasAName) {
  std::vector<std::string> seen;
  for (int e = static_cast<int>(Error::kNone); e <= static_cast<int>(Error::kV2BadTlv); ++e) {
    std::string name = ErrorReason(static_cast<Error>(e));
    EXPECT_NE(name, "unknown");
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << name;
    for (const auto& s : seen) EXPECT_NE(s, name);
    seen.push_back(name);
  }
}

}  // namespace
}  // namespace imapgate::proxyproto
