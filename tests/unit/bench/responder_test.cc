#include "bench/fixture_backend/responder.h"

#include <gtest/gtest.h>

namespace imapgate::bench {
namespace {

using Action = ImapResponder::Action;

class ResponderTest : public ::testing::Test {
 protected:
  std::string Say(std::vector<std::string> tokens, Action expect = Action::kContinue) {
    std::string out;
    EXPECT_EQ(responder_.Respond(tokens, &out), expect);
    return out;
  }
  std::string password_ = "secret";
  std::string message_ = MakeFixtureMessage(1000);
  ImapResponder responder_{&password_, &message_};
};

TEST_F(ResponderTest, MessageHasExactSize) {
  EXPECT_EQ(MakeFixtureMessage(10240).size(), 10240u);
  EXPECT_EQ(MakeFixtureMessage(1).size(), 1u);
  EXPECT_EQ(message_.size(), 1000u);
}

TEST_F(ResponderTest, LoginChecksPassword) {
  EXPECT_EQ(Say({"a", "SELECT", "INBOX"}), "a BAD log in first\r\n");
  EXPECT_NE(Say({"a", "LOGIN", "u", "wrong"}).find("a NO"), std::string::npos);
  EXPECT_NE(Say({"a", "login", "u", "secret"}).find("a OK"), std::string::npos);
  EXPECT_EQ(responder_.state(), ImapResponder::State::kAuthenticated);
}

TEST_F(ResponderTest, SelectIdleFetchLogout) {
  Say({"a", "LOGIN", "u", "secret"});
  EXPECT_NE(Say({"b", "UID", "FETCH", "1", "BODY.PEEK[]"}).find("b BAD"), std::string::npos);
  std::string sel = Say({"b", "SELECT", "INBOX"});
  EXPECT_NE(sel.find("* 1 EXISTS\r\n"), std::string::npos);
  EXPECT_NE(sel.find("b OK [READ-WRITE]"), std::string::npos);
  EXPECT_EQ(Say({"c", "IDLE"}), "+ idling\r\n");
  EXPECT_EQ(Say({"DONE"}), "c OK IDLE terminated\r\n");
  std::string fetch = Say({"d", "UID", "FETCH", "1", "BODY.PEEK[]"});
  EXPECT_EQ(fetch,
            "* 1 FETCH (UID 1 BODY[] {1000}\r\n" + message_ + ")\r\nd OK UID FETCH completed\r\n");
  EXPECT_EQ(Say({"e", "UID", "FETCH", "2", "BODY.PEEK[]"}), "e OK UID FETCH completed\r\n");
  EXPECT_NE(Say({"f", "FETCH", "1:*", "BODY[]"}).find("{1000}"), std::string::npos);
  EXPECT_EQ(Say({"g", "NOOP"}), "g OK NOOP completed\r\n");
  EXPECT_EQ(Say({"h", "LOGOUT"}, Action::kClose),
            "* BYE fixture logging out\r\nh OK LOGOUT completed\r\n");
}

TEST_F(ResponderTest, IdleNeedsDone) {
  Say({"a", "LOGIN", "u", "secret"});
  Say({"b", "SELECT", "INBOX"});
  Say({"c", "IDLE"});
  Say({"d", "NOOP"}, Action::kClose);
}

TEST_F(ResponderTest, UnknownAndCapability) {
  EXPECT_NE(Say({"a", "CAPABILITY"}).find("IDLE"), std::string::npos);
  EXPECT_EQ(Say({"a", "XYZZY"}), "a BAD log in first\r\n");
  EXPECT_EQ(Say({"a"}), "* BAD missing command\r\n");
}

}  // namespace
}  // namespace imapgate::bench
