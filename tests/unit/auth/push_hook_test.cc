// The push hook's JSON request and the reading of its answer.
#include "auth/push_hook.h"

#include <gtest/gtest.h>

namespace imapgate::auth {
namespace {

TEST(PushHookTest, RequestBodyCarriesTheLoginContextAndEscapes) {
  PushQuery q;
  q.user = "carol@demo.test";
  q.session_id = "s-1";
  q.client_ip = "192.0.2.7";
  q.client_port = 50123;
  q.tls_version = "TLSv1.3";
  q.mechanism = "PLAIN";
  q.attempt = 2;
  q.client_id = {{"name", "Thunder\"bird"}};
  EXPECT_EQ(BuildPushRequestBody(q),
            "{\"user\":\"carol@demo.test\",\"session_id\":\"s-1\",\"client_ip\":\"192.0.2.7\",\"client_port\":50123,"
            "\"tls_version\":\"TLSv1.3\",\"sni\":\"\",\"mechanism\":\"PLAIN\",\"attempt\":2,"
            "\"client_id\":{\"name\":\"Thunder\\\"bird\"}}");
  q.transaction = "t-9";
  EXPECT_NE(BuildPushRequestBody(q).find("\"transaction\":\"t-9\""), std::string::npos);
}

TEST(PushHookTest, Answers) {
  auto allow = ParsePushAnswer(200, R"({"result":"allow"})");
  ASSERT_TRUE(allow.ok());
  EXPECT_EQ(allow->result, PushAnswer::Result::kAllow);
  auto deny = ParsePushAnswer(200, R"({"result":"deny"})");
  ASSERT_TRUE(deny.ok());
  EXPECT_EQ(deny->result, PushAnswer::Result::kDeny);
  auto pending = ParsePushAnswer(200, R"({"result":"pending","transaction":"abc"})");
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->result, PushAnswer::Result::kPending);
  EXPECT_EQ(pending->transaction, "abc");
}

TEST(PushHookTest, AnythingElseIsAnError) {
  EXPECT_FALSE(ParsePushAnswer(500, R"({"result":"allow"})").ok());  // fails closed
  EXPECT_FALSE(ParsePushAnswer(200, "").ok());
  EXPECT_FALSE(ParsePushAnswer(200, "allow").ok());
  EXPECT_FALSE(ParsePushAnswer(200, R"(["allow"])").ok());
  EXPECT_FALSE(ParsePushAnswer(200, R"({"result":"maybe"})").ok());
  EXPECT_FALSE(ParsePushAnswer(200, R"({"result":1})").ok());
  EXPECT_FALSE(ParsePushAnswer(200, R"({"result":"allow","transaction":5})").ok());
  EXPECT_FALSE(ParsePushAnswer(200, R"({"result":"allow","result":"deny"})").ok());  // duplicate key
}

TEST(PushHookTest, AnswerSizeAndTransactionAreBounded) {
  std::string big = R"({"result":"allow","pad":")" + std::string(5000, 'x') + "\"}";
  EXPECT_FALSE(ParsePushAnswer(200, big).ok());
  std::string long_transaction = R"({"result":"pending","transaction":")" + std::string(257, 't') + "\"}";
  EXPECT_FALSE(ParsePushAnswer(200, long_transaction).ok());
  std::string ok_transaction = R"({"result":"pending","transaction":")" + std::string(256, 't') + "\"}";
  EXPECT_TRUE(ParsePushAnswer(200, ok_transaction).ok());
}

}  // namespace
}  // namespace imapgate::auth
