// Tests for `backend_login:` (config/backend_login.cc): client pass-through or a master user,
// top-level and per shard, with the master password read from a private file.
#include "config/backend_login.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config_test_util.h"

namespace imapgate::config {
namespace {

using Mode = BackendLoginConfig::Mode;
using Form = BackendLoginConfig::Form;

// kMinimal (6 lines) then "backend_login:" at line 7; its keys at column 3, values after them.
class BackendLoginConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/imapgate-backend-login-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    WritePassword("master secret\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WritePassword(const std::string& content, mode_t mode = 0600) {
    const std::string path = dir_ + "/master.pass";
    std::ofstream(path, std::ios::trunc) << content;
    ASSERT_EQ(chmod(path.c_str(), mode), 0);
  }
  StatusOr<ConfigPtr> Load(const std::string& text) {
    return LoadConfigText(text, dir_ + "/imapgate.yaml");
  }
  StatusOr<ConfigPtr> LoadLogin(const std::string& keys) {
    return Load(kMinimal + "backend_login:\n" + keys);
  }
  // The error lines without "DIR/imapgate.yaml:".
  std::string Errors(const std::string& keys) {
    StatusOr<ConfigPtr> c = LoadLogin(keys);
    EXPECT_FALSE(c.ok());
    if (c.ok()) return "";
    std::string message = c.status().message();
    const std::string prefix = dir_ + "/imapgate.yaml:";
    for (size_t pos; (pos = message.find(prefix)) != std::string::npos;) {
      message.erase(pos, prefix.size());
    }
    return message;
  }
  std::string dir_;
  const std::string kMaster =
      "  mode: master\n  master_user: proxy\n  master_password_file: master.pass\n";
};

TEST_F(BackendLoginConfigTest, ClientCredentialsByDefault) {
  StatusOr<ConfigPtr> c = Load(kMinimal);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->backend_login.mode, Mode::kClient);
  EXPECT_EQ((*c)->backend_login.master_password, nullptr);
  ASSERT_EQ((*c)->shards.size(), 1u);
  EXPECT_EQ((*c)->shards[0].backend_login.mode, Mode::kClient);
  c = LoadLogin("  mode: client\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->backend_login.mode, Mode::kClient);
}

TEST_F(BackendLoginConfigTest, MasterUserWithDefaults) {
  StatusOr<ConfigPtr> c = LoadLogin(kMaster);
  ASSERT_TRUE(c.ok()) << c.status().message();
  const BackendLoginConfig& login = (*c)->backend_login;
  EXPECT_EQ(login.mode, Mode::kMaster);
  EXPECT_EQ(login.form, Form::kLoginSeparator);
  EXPECT_EQ(login.separator, '*');
  EXPECT_EQ(login.master_user, "proxy");
  EXPECT_EQ(login.master_password_file, dir_ + "/master.pass");
  ASSERT_NE(login.master_password, nullptr);
  EXPECT_EQ(login.master_password->view(), "master secret");
  EXPECT_EQ(login.location.line, 8);
  // The single `backend:` shard takes the top-level login, sharing the one secret.
  EXPECT_EQ((*c)->shards[0].backend_login.mode, Mode::kMaster);
  EXPECT_EQ((*c)->shards[0].backend_login.master_password, login.master_password);
}

TEST_F(BackendLoginConfigTest, FormAndSeparator) {
  StatusOr<ConfigPtr> c = LoadLogin(kMaster + "  form: sasl_authzid\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->backend_login.form, Form::kSaslPlainAuthzid);
  c = LoadLogin(kMaster + "  separator: '%'\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ((*c)->backend_login.separator, '%');
  EXPECT_EQ(Errors(kMaster + "  form: authzid\n"),
            "11:9: backend_login.form: expected login_separator or sasl_authzid, got "
            "'authzid'");
  const std::string bad_separator =
      ": backend_login.separator: must be one printable character other than a letter, digit or "
      "space, got ";
  EXPECT_EQ(Errors(kMaster + "  separator: '**'\n"), "11:14" + bad_separator + "'**'");
  EXPECT_EQ(Errors(kMaster + "  separator: x\n"), "11:14" + bad_separator + "'x'");
  EXPECT_EQ(Errors(kMaster + "  separator: ' '\n"), "11:14" + bad_separator + "' '");
  EXPECT_EQ(Errors(kMaster + "  separator: ''\n"),
            "11:14: backend_login.separator: must not be empty");
}

TEST_F(BackendLoginConfigTest, MasterModeNeedsUserAndPasswordFile) {
  EXPECT_EQ(Errors("  mode: master\n"),
            "8:3: missing required key 'master_user' in backend_login\n"
            "8:3: missing required key 'master_password_file' in backend_login");
  EXPECT_EQ(Errors("  mode: slave\n"),
            "8:9: backend_login.mode: expected client or master, got 'slave'");
}

TEST_F(BackendLoginConfigTest, MasterUserBounds) {
  const std::string file = "  mode: master\n  master_password_file: master.pass\n";
  StatusOr<ConfigPtr> c = LoadLogin(file + "  master_user: " + std::string(255, 'm') + "\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const std::string bad = ": backend_login.master_user: must be 1 to 255 bytes of UTF-8 without "
                          "spaces or control characters, got ";
  const std::string long_name(256, 'm');
  EXPECT_EQ(Errors(file + "  master_user: " + long_name + "\n"),
            "10:16" + bad + "'" + long_name.substr(0, 40) + "...'");
  EXPECT_EQ(Errors(file + "  master_user: 'a b'\n"), "10:16" + bad + "'a b'");
  EXPECT_EQ(Errors(file + "  master_user: pro*xy\n"),
            "10:16: backend_login.master_user: must not contain the separator '*' (the backend "
            "could not split user and master user)");
  // The separator does not matter to the SASL form.
  EXPECT_TRUE(LoadLogin(file + "  master_user: pro*xy\n  form: sasl_authzid\n").ok());
}

TEST_F(BackendLoginConfigTest, PasswordFileRules) {
  const std::string at = "10:25: backend_login.master_password_file: " + dir_ + "/master.pass: ";
  WritePassword("master secret\n", 0640);
  EXPECT_EQ(Errors(kMaster), at + "the file is accessible by group or others (mode 0640); a "
                                  "secret file must be private: chmod 600 it");
  WritePassword("\n");
  EXPECT_EQ(Errors(kMaster), at + "the file is empty");
  WritePassword(std::string(4097, 'p'));
  EXPECT_EQ(Errors(kMaster), at + "the file is larger than 4KiB");
  WritePassword("line one\nline two\n");
  const std::string message = Errors(kMaster);
  EXPECT_EQ(message,
            at + "the password must not contain control characters; bad byte at position 9");
  EXPECT_EQ(message.find("line one"), std::string::npos);
}

TEST_F(BackendLoginConfigTest, InlinePasswordIsRefusedWithoutQuotingIt) {
  const std::string message = Errors(kMaster + "  master_password: hunter2hunter2\n");
  EXPECT_EQ(message,
            "11:3: backend_login.master_password: secrets are not accepted inline; put it in a "
            "file only its owner can read (chmod 600) and name that file with "
            "master_password_file instead");
  EXPECT_EQ(Errors("  master_password: hunter2hunter2\n"),
            "8:3: backend_login.master_password: secrets are not accepted inline; put it in a "
            "file only its owner can read (chmod 600) and name that file with "
            "master_password_file instead");
}

TEST_F(BackendLoginConfigTest, MasterKeysWithoutMasterModeAreErrors) {
  EXPECT_EQ(Errors("  master_user: proxy\n  master_password_file: master.pass\n"),
            "8:16: backend_login.master_user: only used with mode: master (mode client logs in "
            "with the client's own credentials)\n"
            "9:25: backend_login.master_password_file: only used with mode: master (mode "
            "client logs in with the client's own credentials)");
}

TEST_F(BackendLoginConfigTest, PerShardLoginOverridesTheTopLevelOne) {
  const std::string text = R"(listeners:
  - name: a
    address: 127.0.0.1:1993
    tls: {certificate: c.pem, key: k.pem}
backend_login:
  mode: master
  master_user: proxy
  master_password_file: master.pass
shards:
  - name: shard-a
    backends: [{name: a1, address: 127.0.0.1:11143}]
  - name: shard-b
    backend_login: {mode: client}
    backends: [{name: b1, address: 127.0.0.1:11145}]
  - name: shard-c
    backend_login:
      mode: master
      master_user: other
      master_password_file: master.pass
      form: sasl_authzid
      master_password: inline
    backends: [{name: c1, address: 127.0.0.1:11146}]
)";
  StatusOr<ConfigPtr> c = Load(text);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            dir_ + "/imapgate.yaml:21:7: shards[shard-c].backend_login.master_password: secrets "
                   "are not accepted inline; put it in a file only its owner can read (chmod "
                   "600) and name that file with master_password_file instead");
  const std::string valid = text.substr(0, text.find("      master_password: inline")) +
                            "    backends: [{name: c1, address: 127.0.0.1:11146}]\n";
  c = Load(valid);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ((*c)->shards.size(), 3u);
  EXPECT_EQ((*c)->shards[0].backend_login.mode, Mode::kMaster);
  EXPECT_EQ((*c)->shards[0].backend_login.master_user, "proxy");
  EXPECT_EQ((*c)->shards[1].backend_login.mode, Mode::kClient);
  EXPECT_EQ((*c)->shards[1].backend_login.master_password, nullptr);
  EXPECT_EQ((*c)->shards[2].backend_login.master_user, "other");
  EXPECT_EQ((*c)->shards[2].backend_login.form, Form::kSaslPlainAuthzid);
  EXPECT_EQ((*c)->shards[2].backend_login.master_password->view(), "master secret");
}

}  // namespace
}  // namespace imapgate::config
