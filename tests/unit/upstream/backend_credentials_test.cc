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

}  // namespace
}  // namespace imapgate::upstream
