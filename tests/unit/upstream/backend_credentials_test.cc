// Tests for upstream::BackendCredentials formatting: the client's own pair, Dovecot's
// "user*master" LOGIN form (with a configurable separator) and the SASL PLAIN authzid form.

#include "upstream/backend_credentials.h"

#include <gtest/gtest.h>

namespace imapgate::upstream {
namespace {

MasterUserCredentials Master(MasterUserCredentials::Form form) {
  MasterUserCredentials m;
  m.form = form;
  m.user = SecretString("bob@example.org");
  m.master_user = SecretString("proxy");
  m.master_password = SecretString("m\"pw\\");
  return m;
}

TEST(BackendCredentialsTest, ClientOwnCredentialsAreSentAsTheyAre) {
  BackendCredentials c = ClientOwnCredentials{SecretString("alice"), SecretString("pass word")};
  auto login = FormatLoginArguments(c);
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->user.view(), "alice");
  EXPECT_EQ(login->password.view(), "pass word");
  EXPECT_FALSE(FormatSaslPlainResponse(c).has_value());
  EXPECT_EQ(CredentialsUser(c), "alice");
}

TEST(BackendCredentialsTest, MasterUserSeparatorFormJoinsUserAndMaster) {
  BackendCredentials c = Master(MasterUserCredentials::Form::kLoginSeparator);
  auto login = FormatLoginArguments(c);
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->user.view(), "bob@example.org*proxy");
  EXPECT_EQ(login->password.view(), "m\"pw\\");
  EXPECT_FALSE(FormatSaslPlainResponse(c).has_value());
  EXPECT_EQ(CredentialsUser(c), "bob@example.org");
}

TEST(BackendCredentialsTest, MasterUserSeparatorIsConfigurable) {
  MasterUserCredentials m = Master(MasterUserCredentials::Form::kLoginSeparator);
  m.separator = '%';
  auto login = FormatLoginArguments(BackendCredentials(std::move(m)));
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->user.view(), "bob@example.org%proxy");
}

TEST(BackendCredentialsTest, MasterUserSaslFormPutsTheClientInTheAuthzid) {
  BackendCredentials c = Master(MasterUserCredentials::Form::kSaslPlainAuthzid);
  EXPECT_FALSE(FormatLoginArguments(c).has_value());
  auto sasl = FormatSaslPlainResponse(c);
  ASSERT_TRUE(sasl.has_value());
  // base64("bob@example.org\0proxy\0m\"pw\\")
  EXPECT_EQ(sasl->view(), "Ym9iQGV4YW1wbGUub3JnAHByb3h5AG0icHdc");
}

TEST(BackendCredentialsTest, BearerTokenIsNoLoginAndFormatsBothMechanisms) {
  BackendCredentials c = BearerTokenCredentials{SecretString("bob@example.org"), SecretString("t0k")};
  EXPECT_FALSE(FormatLoginArguments(c).has_value());
  EXPECT_FALSE(FormatSaslPlainResponse(c).has_value());
  EXPECT_EQ(CredentialsUser(c), "bob@example.org");
  auto x = FormatBearerResponse(c, BearerMechanism::kXoauth2);
  ASSERT_TRUE(x.has_value());
  // base64("user=bob@example.org^Aauth=Bearer t0k^A^A")
  EXPECT_EQ(x->view(), "dXNlcj1ib2JAZXhhbXBsZS5vcmcBYXV0aD1CZWFyZXIgdDBrAQE=");
  auto o = FormatBearerResponse(c, BearerMechanism::kOauthBearer);
  ASSERT_TRUE(o.has_value());
  // base64("n,a=bob@example.org,^Aauth=Bearer t0k^A^A")
  EXPECT_EQ(o->view(), "bixhPWJvYkBleGFtcGxlLm9yZywBYXV0aD1CZWFyZXIgdDBrAQE=");
  EXPECT_FALSE(FormatBearerResponse(Master(MasterUserCredentials::Form::kSaslPlainAuthzid),
                                    BearerMechanism::kXoauth2).has_value());
}

TEST(BackendCredentialsTest, BearerTokenCopies) {
  BackendCredentials c = BearerTokenCredentials{SecretString("bob"), SecretString("t0k")};
  BackendCredentials copy = CopyCredentials(c);
  const auto* b = std::get_if<BearerTokenCredentials>(&copy);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->user.view(), "bob");
  EXPECT_TRUE(b->token.view() == "t0k");
}

TEST(BackendCredentialsTest, BearerMechanismPrefersXoauth2) {
  EXPECT_EQ(ChooseBearerMechanism("IMAP4rev1 AUTH=OAUTHBEARER AUTH=XOAUTH2"), BearerMechanism::kXoauth2);
  EXPECT_EQ(ChooseBearerMechanism("IMAP4rev1 auth=oauthbearer"), BearerMechanism::kOauthBearer);
  EXPECT_FALSE(ChooseBearerMechanism("IMAP4rev1 AUTH=PLAIN SASL-IR").has_value());
  EXPECT_FALSE(ChooseBearerMechanism("IMAP4rev1 AUTH=XOAUTH2X").has_value());
}

}  // namespace
}  // namespace imapgate::upstream
