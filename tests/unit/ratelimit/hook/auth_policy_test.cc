// The Dovecot auth_policy codec (ratelimit/auth_policy.h): pwhash, request body, command target,
// answer parsing and its bounds, the verdict mapping. Pure: no sockets, no clock.
//
// The pwhash vectors come from Python's hashlib, outside this code:
//   d = sha256(nonce + user + b"\0" + password).digest()
//   (int.from_bytes(d, "big") >> (256 - bits)).to_bytes((bits + 7) // 8, "big").hex()
// which is what Dovecot's buffer_truncate_rshift_bits() computes (src/lib/buffer.c).
#include "ratelimit/auth_policy.h"

#include <gtest/gtest.h>

#include <string>

#include "admin/json_reader.h"

namespace imapgate::ratelimit {
namespace {

constexpr const char* kNonce = "s3cr3t-nonce";
constexpr const char* kUser = "carol@demo.test";
constexpr const char* kFull = "600449a70bee300be266216454f6bba33515f87483cf9ed5e7404b242c6c87d8";

std::string Hash(int bits, const char* user = kUser, const char* pass = "hunter2") {
  SecretString password(pass);
  return PolicyPasswordHash(kNonce, user, password, bits);
}

TEST(PolicyPasswordHashTest, DefaultTwelveBitsIsFourHexDigitsRightAligned) {
  EXPECT_EQ(Hash(12), "0600");
  EXPECT_EQ(Hash(12, kUser, "hunter3"), "0dda");
  EXPECT_EQ(Hash(12, "dave@demo.test"), "0efe");
}

TEST(PolicyPasswordHashTest, TruncatesToTheBit) {
  EXPECT_EQ(Hash(1), "00");
  EXPECT_EQ(Hash(7), "30");
  EXPECT_EQ(Hash(8), "60");
  EXPECT_EQ(Hash(13), "0c00");
  EXPECT_EQ(Hash(16), "6004");
  EXPECT_EQ(Hash(20), "060044");
  EXPECT_EQ(Hash(255), "300224d385f71805f13310b22a7b5dd19a8afc3a41e7cf6af3a02592163643ec");
}

TEST(PolicyPasswordHashTest, ZeroOrFullWidthGivesTheWholeDigest) {
  EXPECT_EQ(Hash(0), kFull);
  EXPECT_EQ(Hash(256), kFull);
  EXPECT_EQ(Hash(300), kFull);
  EXPECT_EQ(Hash(-1), kFull);
}

TEST(PolicyPasswordHashTest, EmptyUserAndPasswordStillHashTheSeparator) {
  SecretString empty;
  EXPECT_EQ(PolicyPasswordHash("n", "", empty, 12), "0481");
}

TEST(PolicyPasswordHashTest, NeverContainsThePassword) {
  SecretString password("0600");
  std::string h = PolicyPasswordHash(kNonce, kUser, password, 0);
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h.find("hunter2"), std::string::npos);
}

TEST(PolicyCommandTargetTest, AppendsTheCommandAsDovecotDoes) {
  EXPECT_EQ(PolicyCommandTarget("/", PolicyCommand::kAllow), "/?command=allow");
  EXPECT_EQ(PolicyCommandTarget("/policy", PolicyCommand::kReport), "/policy?command=report");
  EXPECT_EQ(PolicyCommandTarget("/p?key=1&", PolicyCommand::kAllow), "/p?key=1&command=allow");
  EXPECT_EQ(PolicyCommandTarget("/p?key=1", PolicyCommand::kAllow), "/p?key=1&command=allow");
  EXPECT_EQ(PolicyCommandTarget("", PolicyCommand::kAllow), "/?command=allow");
}

PolicyRequest Sample() {
  PolicyRequest r;
  r.login = "carol@demo.test";
  r.remote = "192.0.2.7";
  r.device_id = "name=Thunderbird";
  r.session_id = "s-1";
  r.tls = true;
  return r;
}

TEST(BuildPolicyRequestBodyTest, AllowHasDovecotsFieldsInSortedOrderAndNoResult) {
  auto body = BuildPolicyRequestBody(Sample(), "0600", PolicyCommand::kAllow);
  ASSERT_TRUE(body.ok()) << body.status().message();
  EXPECT_EQ(
      *body,
      "{\"device_id\":\"name=Thunderbird\",\"fail_type\":\"\",\"login\":\"carol@demo.test\","
      "\"protocol\":\"imap\",\"pwhash\":\"0600\",\"remote\":\"192.0.2.7\",\"session_id\":\"s-1\","
      "\"tls\":true}");
}

TEST(BuildPolicyRequestBodyTest, ReportAddsSuccessAndPolicyRejectAsBooleans) {
  PolicyRequest r = Sample();
  r.tls = false;
  r.success = false;
  r.policy_reject = true;
  r.fail_type = "policy";
  auto body = BuildPolicyRequestBody(r, "0600", PolicyCommand::kReport);
  ASSERT_TRUE(body.ok());
  auto json = admin::ParseJson(*body);
  ASSERT_TRUE(json.ok()) << json.status().message();
  ASSERT_NE(json->Find("success"), nullptr);
  EXPECT_EQ(json->Find("success")->type(), admin::JsonValue::Type::kBool);
  EXPECT_FALSE(json->Find("success")->bool_value());
  EXPECT_TRUE(json->Find("policy_reject")->bool_value());
  EXPECT_FALSE(json->Find("tls")->bool_value());
  EXPECT_EQ(json->Find("fail_type")->string(), "policy");
  EXPECT_NE(
      body->find("\"session_id\":\"s-1\",\"success\":false,\"policy_reject\":true,\"tls\":false}"),
      std::string::npos)
      << *body;
}

TEST(BuildPolicyRequestBodyTest, EscapesHostileStrings) {
  PolicyRequest r = Sample();
  r.login = "a\"b\\c\r\nd\x01";
  r.device_id = std::string("bad\xff", 4);
  auto body = BuildPolicyRequestBody(r, "0600", PolicyCommand::kAllow);
  ASSERT_TRUE(body.ok());
  auto json = admin::ParseJson(*body);
  ASSERT_TRUE(json.ok()) << json.status().message();
  EXPECT_EQ(json->Find("login")->string(), r.login);
  EXPECT_EQ(json->Find("device_id")->string(), "bad\xEF\xBF\xBD");
  EXPECT_EQ(body->find('\n'), std::string::npos);
}

TEST(BuildPolicyRequestBodyTest, FieldBound) {
  PolicyRequest r = Sample();
  r.device_id.assign(kMaxPolicyFieldBytes, 'x');
  EXPECT_TRUE(BuildPolicyRequestBody(r, "0600", PolicyCommand::kAllow).ok());
  r.device_id.push_back('x');
  auto body = BuildPolicyRequestBody(r, "0600", PolicyCommand::kAllow);
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("device_id"), std::string::npos);
  EXPECT_EQ(body.status().message().find("xxxx"), std::string::npos);
  r = Sample();
  r.login.assign(kMaxPolicyFieldBytes + 1, 'u');
  EXPECT_FALSE(BuildPolicyRequestBody(r, "0600", PolicyCommand::kReport).ok());
}

TEST(ParsePolicyAnswerTest, ReadsStatusAndMessage) {
  auto a = ParsePolicyAnswer(200, R"({"status": -1, "msg": "go away"})");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->status, -1);
  EXPECT_EQ(a->message, "go away");
  a = ParsePolicyAnswer(200, R"({"status":0})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->status, 0);
  EXPECT_EQ(a->message, "");
  a = ParsePolicyAnswer(204, R"( {"msg":"","status":5} )");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->status, 5);
}

TEST(ParsePolicyAnswerTest, IgnoresUnknownMembersAsDovecotDoes) {
  auto a = ParsePolicyAnswer(200, R"({"status":3,"msg":"slow down","r_attrs":{"k":["v",1]}})");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->status, 3);
  EXPECT_EQ(a->message, "slow down");
}

TEST(ParsePolicyAnswerTest, NonSuccessHttpStatusIsAnError) {
  EXPECT_FALSE(ParsePolicyAnswer(500, R"({"status":0})").ok());
  EXPECT_FALSE(ParsePolicyAnswer(302, R"({"status":0})").ok());
  EXPECT_FALSE(ParsePolicyAnswer(404, R"({"status":0})").ok());
}

TEST(ParsePolicyAnswerTest, MalformedAnswersAreErrors) {
  for (const char* body :
       {"", "garbage", "[]", "{}", R"({"status":"0"})", R"({"status":1.5})", R"({"status":null})",
        R"({"msg":"x"})", R"({"status":0,"msg":5})", R"({"status":0} trailing)",
        R"({"status":0,"status":-1})", R"({"status":4294967296})", R"({"status":-2147483649})"}) {
    auto a = ParsePolicyAnswer(200, body);
    EXPECT_FALSE(a.ok()) << body;
    if (!a.ok()) {
      EXPECT_EQ(a.status().code(), StatusCode::kUnavailable);
    }
  }
  EXPECT_TRUE(ParsePolicyAnswer(200, R"({"status":2147483647})").ok());
  EXPECT_TRUE(ParsePolicyAnswer(200, R"({"status":-2147483648})").ok());
}

TEST(ParsePolicyAnswerTest, BodyBound) {
  std::string pad(kMaxPolicyAnswerBytes, ' ');
  std::string body = R"({"status":0})";
  std::string ok = body + pad.substr(body.size());
  ASSERT_EQ(ok.size(), kMaxPolicyAnswerBytes);
  EXPECT_TRUE(ParsePolicyAnswer(200, ok).ok());
  auto a = ParsePolicyAnswer(200, ok + " ");
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("too large"), std::string::npos);
}

TEST(ParsePolicyAnswerTest, MessageBoundAndPrintableAscii) {
  std::string m(kMaxPolicyMessageBytes, 'm');
  EXPECT_TRUE(ParsePolicyAnswer(200, R"({"status":-1,"msg":")" + m + "\"}").ok());
  auto a = ParsePolicyAnswer(200, R"({"status":-1,"msg":")" + m + "m\"}");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message().find("mmmm"), std::string::npos);  // never quotes the body
  EXPECT_FALSE(ParsePolicyAnswer(200, R"({"status":-1,"msg":"a\r\n* BYE"})").ok());
  EXPECT_FALSE(ParsePolicyAnswer(200, R"({"status":-1,"msg":"tab\there"})").ok());
  EXPECT_FALSE(ParsePolicyAnswer(200, R"({"status":-1,"msg":"caf\u00e9"})").ok());
  EXPECT_FALSE(ParsePolicyAnswer(200, "{\"status\":-1,\"msg\":\"del\x7f\"}").ok());
  EXPECT_TRUE(ParsePolicyAnswer(200, R"({"status":-1,"msg":" ~printable! "})").ok());
}

TEST(VerdictFromAnswerTest, NegativeRejectsZeroAllowsPositiveDelaysCapped) {
  const auto cap = std::chrono::seconds(30);
  PolicyVerdict v = VerdictFromAnswer(PolicyAnswer{-1, "go away"}, cap);
  EXPECT_EQ(v.kind, PolicyVerdict::Kind::kReject);
  EXPECT_EQ(v.message, "go away");
  EXPECT_EQ(VerdictFromAnswer(PolicyAnswer{-7, ""}, cap).kind, PolicyVerdict::Kind::kReject);
  EXPECT_EQ(VerdictFromAnswer(PolicyAnswer{0, "fine"}, cap).kind, PolicyVerdict::Kind::kAllow);
  v = VerdictFromAnswer(PolicyAnswer{3, ""}, cap);
  EXPECT_EQ(v.kind, PolicyVerdict::Kind::kDelay);
  EXPECT_EQ(v.delay, std::chrono::seconds(3));
  v = VerdictFromAnswer(PolicyAnswer{2147483647, ""}, cap);
  EXPECT_EQ(v.kind, PolicyVerdict::Kind::kDelay);
  EXPECT_EQ(v.delay, cap);
  EXPECT_EQ(VerdictFromAnswer(PolicyAnswer{5, ""}, std::chrono::seconds(0)).kind,
            PolicyVerdict::Kind::kAllow);
}

}  // namespace
}  // namespace imapgate::ratelimit
