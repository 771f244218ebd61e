// The fleet bus's line codec (ratelimit/fleet_event.h): round trips, escaping, and every bound.
#include "ratelimit/fleet_event.h"

#include <gtest/gtest.h>

#include <string>

namespace imapgate::ratelimit {
namespace {

FleetEvent Block(std::string key, int64_t ms) {
  FleetEvent e;
  e.kind = FleetEventKind::kBlock;
  e.instance = "inst-1";
  e.scope = BlockScope::kSubnet;
  e.cause = BlockCause::kSpraying;
  e.key = std::move(key);
  e.duration = std::chrono::milliseconds(ms);
  return e;
}

FleetEvent Move(std::string user, std::string shard) {
  FleetEvent e;
  e.kind = FleetEventKind::kMove;
  e.instance = "inst-1";
  e.user = std::move(user);
  e.shard = std::move(shard);
  return e;
}

FleetDecode Decode(const std::string& line, FleetEvent* out = nullptr) {
  FleetEvent scratch;
  return DecodeFleetEvent(line, out != nullptr ? out : &scratch);
}

TEST(FleetEventTest, BlockRoundTrips) {
  auto line = EncodeFleetEvent(Block("192.0.2.0/24", 900000));
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, "v1 inst-1 block subnet spraying 900000 192.0.2.0/24");
  FleetEvent out;
  ASSERT_EQ(Decode(*line, &out), FleetDecode::kOk);
  EXPECT_EQ(out.kind, FleetEventKind::kBlock);
  EXPECT_EQ(out.instance, "inst-1");
  EXPECT_EQ(out.scope, BlockScope::kSubnet);
  EXPECT_EQ(out.cause, BlockCause::kSpraying);
  EXPECT_EQ(out.duration.count(), 900000);
  EXPECT_EQ(out.key, "192.0.2.0/24");
}

TEST(FleetEventTest, UnblockKickAndMoveRoundTrip) {
  FleetEvent unblock;
  unblock.kind = FleetEventKind::kUnblock;
  unblock.instance = "a.b_c-9";
  unblock.scope = BlockScope::kAddress;
  unblock.key = "2001:db8::1";
  FleetEvent out;
  ASSERT_EQ(Decode(*EncodeFleetEvent(unblock), &out), FleetDecode::kOk);
  EXPECT_EQ(out.kind, FleetEventKind::kUnblock);
  EXPECT_EQ(out.key, "2001:db8::1");
  EXPECT_EQ(out.instance, "a.b_c-9");

  FleetEvent kick;
  kick.kind = FleetEventKind::kKick;
  kick.instance = "i";
  kick.user = "alice@demo.test";
  ASSERT_EQ(Decode(*EncodeFleetEvent(kick), &out), FleetDecode::kOk);
  EXPECT_EQ(out.kind, FleetEventKind::kKick);
  EXPECT_EQ(out.user, "alice@demo.test");

  ASSERT_EQ(Decode(*EncodeFleetEvent(Move("bob@demo.test", "shard-b")), &out), FleetDecode::kOk);
  EXPECT_EQ(out.kind, FleetEventKind::kMove);
  EXPECT_EQ(out.user, "bob@demo.test");
  EXPECT_EQ(out.shard, "shard-b");
}

TEST(FleetEventTest, FreeTextIsEscapedIntoOneToken) {
  static const char kRaw[] = "a b%c\r\nv1 x kick y\x01\xff";
  const std::string user(kRaw, sizeof(kRaw) - 1);
  auto line = EncodeFleetEvent(Move(user, "s 1"));
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(line->find('\n'), std::string::npos);
  EXPECT_EQ(line->find('\r'), std::string::npos);
  FleetEvent out;
  ASSERT_EQ(Decode(*line, &out), FleetDecode::kOk);
  EXPECT_EQ(out.user, user);
  EXPECT_EQ(out.shard, "s 1");
  EXPECT_EQ(EscapeFleetToken("a b%"), "a%20b%25");
}

TEST(FleetEventTest, FieldBoundsOnEncodeAndDecode) {
  EXPECT_TRUE(EncodeFleetEvent(Block(std::string(kMaxFleetKeyBytes, 'k'), 1)).has_value());
  EXPECT_FALSE(EncodeFleetEvent(Block(std::string(kMaxFleetKeyBytes + 1, 'k'), 1)).has_value());
  EXPECT_FALSE(EncodeFleetEvent(Block("", 1)).has_value());
  EXPECT_TRUE(EncodeFleetEvent(Block("k", kMaxFleetBlockMs)).has_value());
  EXPECT_FALSE(EncodeFleetEvent(Block("k", kMaxFleetBlockMs + 1)).has_value());
  EXPECT_FALSE(EncodeFleetEvent(Block("k", 0)).has_value());
  EXPECT_TRUE(EncodeFleetEvent(Move(std::string(kMaxFleetUserBytes, 'u'), "s")).has_value());
  EXPECT_FALSE(EncodeFleetEvent(Move(std::string(kMaxFleetUserBytes + 1, 'u'), "s")).has_value());
  EXPECT_TRUE(EncodeFleetEvent(Move("u", std::string(kMaxFleetShardBytes, 's'))).has_value());
  EXPECT_FALSE(EncodeFleetEvent(Move("u", std::string(kMaxFleetShardBytes + 1, 's'))).has_value());
  EXPECT_FALSE(EncodeFleetEvent(Move("u", "")).has_value());
  FleetEvent bad_instance = Move("u", "s");
  bad_instance.instance = "has space";
  EXPECT_FALSE(EncodeFleetEvent(bad_instance).has_value());
  bad_instance.instance = std::string(kMaxFleetInstanceBytes + 1, 'i');
  EXPECT_FALSE(EncodeFleetEvent(bad_instance).has_value());
  bad_instance.instance = std::string(kMaxFleetInstanceBytes, 'i');
  EXPECT_TRUE(EncodeFleetEvent(bad_instance).has_value());

  // The same bounds when decoding a line another (or a hostile) sender wrote.
  EXPECT_EQ(Decode("v1 i block address operator 1 " + std::string(kMaxFleetKeyBytes, 'k')), FleetDecode::kOk);
  EXPECT_EQ(Decode("v1 i block address operator 1 " + std::string(kMaxFleetKeyBytes + 1, 'k')), FleetDecode::kInvalid);
  // An escaped key counts its unescaped bytes: 64 × "%41" is 64 bytes, 65 is too many.
  std::string escaped;
  for (size_t i = 0; i < kMaxFleetKeyBytes; ++i) escaped += "%41";
  EXPECT_EQ(Decode("v1 i unblock subnet " + escaped), FleetDecode::kOk);
  EXPECT_EQ(Decode("v1 i unblock subnet " + escaped + "%41"), FleetDecode::kInvalid);
  EXPECT_EQ(Decode("v1 i block address operator " + std::to_string(kMaxFleetBlockMs) + " k"), FleetDecode::kOk);
  EXPECT_EQ(Decode("v1 i block address operator " + std::to_string(kMaxFleetBlockMs + 1) + " k"), FleetDecode::kInvalid);
  EXPECT_EQ(Decode("v1 i block address operator 0 k"), FleetDecode::kInvalid);
  EXPECT_EQ(Decode("v1 i block address operator 99999999999999999999 k"), FleetDecode::kInvalid);
  EXPECT_EQ(Decode("v1 i block address operator -5 k"), FleetDecode::kInvalid);
  EXPECT_EQ(Decode("v1 i kick " + std::string(kMaxFleetUserBytes, 'u')), FleetDecode::kOk);
  EXPECT_EQ(Decode("v1 i kick " + std::string(kMaxFleetUserBytes + 1, 'u')), FleetDecode::kInvalid);
  EXPECT_EQ(Decode("v1 i move u " + std::string(kMaxFleetShardBytes + 1, 's')), FleetDecode::kInvalid);
  EXPECT_EQ(Decode("v1 " + std::string(kMaxFleetInstanceBytes + 1, 'i') + " kick u"), FleetDecode::kInvalid);
  // The whole line.
  EXPECT_EQ(Decode("v1 i kick " + std::string(kMaxFleetLineBytes, 'u')), FleetDecode::kInvalid);
}

TEST(FleetEventTest, MalformedLinesAreInvalid) {
  for (const std::string line : {"", "v1", "v1 i", "v1 i block", "v1 i block address operator 5",
                                 "v1 i block place operator 5 k", "v1 i block address why 5 k",
                                 "v1 i kick u extra", "v1 i move u", "v1  i kick u", "v1 i kick u ",
                                 " v1 i kick u", "v1 i kick %4", "v1 i kick %zz", "v1 i kick a%",
                                 "v1 i kick \x01", "v1 i kick a\tb", "v1 i/x kick u", "v1 i kick %00%",
                                 "v1 i unblock address", "v1 i a b c d e f g h i"}) {
    EXPECT_EQ(Decode(line), FleetDecode::kInvalid) << line;
  }
}

TEST(FleetEventTest, UnknownKindsAndVersionsAreIgnored) {
  EXPECT_EQ(Decode("v1 i wave hello"), FleetDecode::kIgnored);
  EXPECT_EQ(Decode("v2 i kick u"), FleetDecode::kIgnored);
  EXPECT_EQ(Decode("v2 anything at all"), FleetDecode::kIgnored);
}

TEST(FleetEventTest, BlockValues) {
  auto value = EncodeBlockValue(BlockScope::kAddress, BlockCause::kAddressFailures, "192.0.2.7");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, "address address_failures 192.0.2.7");
  BlockScope scope;
  BlockCause cause;
  std::string key;
  ASSERT_TRUE(DecodeBlockValue(*value, &scope, &cause, &key));
  EXPECT_EQ(scope, BlockScope::kAddress);
  EXPECT_EQ(cause, BlockCause::kAddressFailures);
  EXPECT_EQ(key, "192.0.2.7");
  EXPECT_FALSE(EncodeBlockValue(BlockScope::kAddress, BlockCause::kOperator, "").has_value());
  EXPECT_FALSE(EncodeBlockValue(BlockScope::kAddress, BlockCause::kOperator, std::string(65, 'k')).has_value());
  EXPECT_FALSE(DecodeBlockValue("address operator", &scope, &cause, &key));
  EXPECT_FALSE(DecodeBlockValue("address operator k extra", &scope, &cause, &key));
  EXPECT_FALSE(DecodeBlockValue("zone operator k", &scope, &cause, &key));
}

}  // namespace
}  // namespace imapgate::ratelimit
