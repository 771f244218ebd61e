// Tests for the users file (config/users_file.h): parsing, normalization, policies, errors that
// never quote a secret, every bound, and the file permission check.
#include "config/users_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "auth/totp.h"
#include "route/normalize.h"

namespace imapgate::config {
namespace {

using auth::SecondFactorPolicy;

const std::string kName = "/etc/imapgate/users.yaml";
// "password" in bcrypt at cost 5 (fast to verify and to copy the cost of).
const std::string kBcrypt = "$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu";
// {SHA256} of "app-password-1".
const std::string kAppHash = "{SHA256}GdTb9dRW00cWw10X1Y5D7kXcbk+TzigyCBG3kA77iUw=";
const std::string kTotp = "JBSWY3DPEHPK3PXP";

const std::string kExample = R"(# demo users
users:
  alice@demo.test:
    password: ")" + kBcrypt + R"("
    shard: a
  Carol@Demo.Test:
    password: ")" + kBcrypt + R"("
    totp: )" + kTotp + R"(
    second_factor: totp
    app_passwords:
      - { name: phone, hash: ")" + kAppHash + R"(" }
  dave@example.com:
    password: "{BLF-CRYPT})" + kBcrypt + R"("
domains:
  Example.COM: { second_factor: push }
)";

std::shared_ptr<const auth::UserDatabase> ParseOk(const std::string& text,
                                                   std::string_view default_domain = {}) {
  auto db = ParseUsersFile(text, kName, default_domain);
  EXPECT_TRUE(db.ok()) << db.status().message();
  return db.ok() ? *db : nullptr;
}

// The error text of a refused file; each line must start with "kName:LINE:COL: ".
std::string Error(const std::string& text, std::string_view default_domain = {}) {
  auto entries = ParseUsersFileEntries(text, kName, default_domain);
  EXPECT_FALSE(entries.ok()) << "unexpectedly valid:\n" << text.substr(0, 400);
  if (entries.ok()) return "";
  const std::string& message = entries.status().message();
  EXPECT_EQ(message.rfind(kName + ":", 0), 0u) << message;
  return message;
}

std::string User(const std::string& name, const std::string& extra = "") {
  return "  " + name + ":\n    password: \"" + kBcrypt + "\"\n" + extra;
}

TEST(UsersFile, ParsesTheExample) {
  auto db = ParseOk(kExample);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->size(), 3u);
  const auth::UserRecord* alice = db->Find("alice@demo.test");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->shard, std::optional<std::string>("a"));
  EXPECT_EQ(alice->line, 3);
  EXPECT_TRUE(alice->totp_key.empty());
  EXPECT_EQ(db->PolicyFor(*alice), SecondFactorPolicy::kNone);
  EXPECT_TRUE(auth::VerifyPassword(alice->password, "password"));

  const auth::UserRecord* carol = db->Find("carol@demo.test");
  ASSERT_NE(carol, nullptr);
  EXPECT_EQ(carol->totp_key.view(), std::string("Hello!\xde\xad\xbe\xef"));
  EXPECT_EQ(db->PolicyFor(*carol), SecondFactorPolicy::kTotp);
  ASSERT_EQ(carol->app_passwords.size(), 1u);
  EXPECT_EQ(carol->app_passwords[0].name, "phone");
  EXPECT_EQ(carol->app_passwords[0].hash.scheme, auth::HashScheme::kSha256);
  EXPECT_TRUE(auth::VerifyPassword(carol->app_passwords[0].hash, "app-password-1"));

  const auth::UserRecord* dave = db->Find("dave@example.com");
  ASSERT_NE(dave, nullptr);
  EXPECT_EQ(dave->password.encoded, kBcrypt);  // {BLF-CRYPT} stripped
  EXPECT_EQ(db->PolicyFor(*dave), SecondFactorPolicy::kPush);  // the domain's, lowercased
  EXPECT_EQ(db->dummy_hash().encoded.rfind("$2b$05$", 0), 0u);
}

TEST(UsersFile, NormalizesNamesLikeTheRouter) {
  auto db = ParseOk("users:\n" + User("Bob") + User("ALICE@Demo.Test"), "demo.test");
  ASSERT_NE(db, nullptr);
  EXPECT_NE(db->Find("bob@demo.test"), nullptr);
  EXPECT_NE(db->Find("alice@demo.test"), nullptr);
  const std::string message =
      Error("users:\n" + User("alice@demo.test") + User("ALICE@demo.test"));
  EXPECT_NE(message.find(":4:3: users: duplicate user 'alice@demo.test' (first at 2:3)"),
            std::string::npos)
      << message;
  // A bare name and its default-domain form are the same user.
  EXPECT_NE(Error("users:\n" + User("bob") + User("bob@demo.test"), "demo.test").find("duplicate user"),
            std::string::npos);
}

TEST(UsersFile, ReportsEachErrorAtItsPosition) {
  const std::string message = Error(
      "users:\n"
      "  alice@demo.test:\n"
      "    pasword: x\n"
      "  bob@demo.test:\n"
      "    password: \"" + kBcrypt + "\"\n"
      "    shard: Not-A-Name\n"
      "    second_factor: sms\n");
  EXPECT_NE(message.find(kName + ":3:5: missing required key 'password'"), std::string::npos) << message;
  EXPECT_NE(message.find(kName + ":3:5: unknown key 'pasword'"), std::string::npos) << message;
  EXPECT_NE(message.find(kName + ":6:12: users.'bob@demo.test'.shard: must be 1 to 32"), std::string::npos)
      << message;
  EXPECT_NE(message.find(":7:20: users.'bob@demo.test'.second_factor: expected none, totp or push"),
            std::string::npos)
      << message;
  EXPECT_NE(Error("").find("missing required key 'users'"), std::string::npos);
  EXPECT_NE(Error("users: [a]\n").find("expected a mapping"), std::string::npos);
  EXPECT_NE(Error("users: {\n").find(kName + ":"), std::string::npos);  // YAML syntax error
  EXPECT_NE(Error("users: {}\n---\nusers: {}\n").find(":2:1: only one YAML document"), std::string::npos);
  EXPECT_NE(Error("users: {}\n\x01").find(":2:1: invalid byte"), std::string::npos);
}

TEST(UsersFile, RefusesPlaintextAndBadHashesWithoutQuotingThem) {
  for (const std::string& value : {std::string("{PLAIN}hunter2secret"), std::string("hunter2secret"),
                                   std::string("{CLEARTEXT}hunter2secret")}) {
    const std::string message =
        Error("users:\n  alice:\n    password: \"" + value + "\"\n");
    EXPECT_NE(message.find(":3:15: users.'alice'.password: "), std::string::npos) << message;
    EXPECT_NE(message.find("plaintext passwords are refused"), std::string::npos) << message;
    EXPECT_EQ(message.find("hunter2"), std::string::npos) << "the error quotes the password";
  }
  const std::string truncated = kBcrypt.substr(0, 40);
  const std::string message = Error("users:\n  alice:\n    password: \"" + truncated + "\"\n");
  EXPECT_NE(message.find("malformed bcrypt hash"), std::string::npos) << message;
  EXPECT_EQ(message.find(truncated.substr(7)), std::string::npos);
  // An app password's hash is checked too.
  const std::string app = Error("users:\n" +
                                User("alice", "    app_passwords:\n      - { name: phone, hash: "
                                              "\"{PLAIN}hunter2secret\" }\n"));
  EXPECT_NE(app.find("app_passwords[0].hash: plaintext passwords are refused"), std::string::npos) << app;
  EXPECT_EQ(app.find("hunter2"), std::string::npos);
}

TEST(UsersFile, ChecksTotpSecretsWithoutQuotingThem) {
  const std::string bad = Error("users:\n" + User("alice", "    totp: JBSWY3DPEHPK3PX1\n"));
  EXPECT_NE(bad.find(":4:11: users.'alice'.totp: not a base32 secret"), std::string::npos) << bad;
  EXPECT_EQ(bad.find("JBSWY3"), std::string::npos) << "the error quotes the secret";
  const std::string shorter = Error("users:\n" + User("alice", "    totp: JBSWY3DPEHPK\n"));
  EXPECT_NE(shorter.find("too short"), std::string::npos) << shorter;
  EXPECT_EQ(shorter.find("JBSWY3"), std::string::npos);
}

TEST(UsersFile, TotpPolicyNeedsATotpSecret) {
  EXPECT_NE(Error("users:\n" + User("alice", "    second_factor: totp\n"))
                .find(":4:20: users.'alice'.second_factor: is totp but the user has no totp secret"),
            std::string::npos);
  EXPECT_NE(Error("users:\n" + User("alice@x.test") + "domains:\n  x.test: {second_factor: totp}\n")
                .find("the domain's second_factor is totp"),
            std::string::npos);
  // The user's own setting overrides the domain's; push needs no secret here.
  EXPECT_NE(ParseOk("users:\n" + User("alice@x.test", "    second_factor: push\n") +
                    "domains:\n  x.test: {second_factor: totp}\n"),
            nullptr);
}

TEST(UsersFile, ChecksAppPasswords) {
  const std::string two = "    app_passwords:\n      - { name: phone, hash: \"" + kAppHash +
                          "\" }\n      - { name: phone, hash: \"" + kAppHash + "\" }\n";
  EXPECT_NE(Error("users:\n" + User("alice", two)).find("duplicate app password name 'phone'"),
            std::string::npos);
  EXPECT_NE(Error("users:\n" + User("alice", "    app_passwords:\n      - { name: phone }\n"))
                .find("missing required key 'hash'"),
            std::string::npos);
  EXPECT_NE(Error("users:\n" + User("alice", "    app_passwords: phone\n")).find("expected a list"),
            std::string::npos);
}

TEST(UsersFile, BoundsTheFileSize) {
  std::string text = "users:\n" + User("alice");
  text += "#" + std::string(kMaxUsersFileBytes - text.size() - 2, 'x') + "\n";
  ASSERT_EQ(text.size(), kMaxUsersFileBytes);
  EXPECT_TRUE(ParseUsersFileEntries(text, kName).ok());
  EXPECT_NE(Error(text + "\n").find("larger than"), std::string::npos);
}

TEST(UsersFile, BoundsTheNumberOfUsers) {
  std::string text = "users:\n";
  for (size_t i = 0; i < kMaxUsers; ++i) {
    text += "  u" + std::to_string(i) + ": {password: \"" + kAppHash + "\"}\n";
  }
  auto entries = ParseUsersFileEntries(text, kName);
  ASSERT_TRUE(entries.ok()) << entries.status().message().substr(0, 200);
  EXPECT_EQ(entries->users.size(), kMaxUsers);
  text += "  one-more: {password: \"" + kAppHash + "\"}\n";
  EXPECT_NE(Error(text).find("more than 10000 users"), std::string::npos);
}

TEST(UsersFile, BoundsTheUserNameLength) {
  const std::string at_bound = std::string(route::kMaxUserBytes - 10, 'a') + "@demo.test";
  EXPECT_NE(ParseOk("users:\n" + User(at_bound)), nullptr);
  EXPECT_NE(Error("users:\n" + User("a" + at_bound)).find("user name longer than 320 bytes"),
            std::string::npos);
  // The default domain counts.
  EXPECT_NE(Error("users:\n" + User(std::string(route::kMaxUserBytes - 5, 'a')), "demo.test")
                .find("user name longer than"),
            std::string::npos);
}

TEST(UsersFile, BoundsTheHashLength) {
  const std::string long_hash = "$argon2id$" + std::string(auth::kMaxStoredHashBytes, 'a');
  EXPECT_NE(Error("users:\n  alice:\n    password: \"" + long_hash + "\"\n").find("longer than 512 bytes"),
            std::string::npos);
}

TEST(UsersFile, BoundsTheTotpSecretLength) {
  const std::string at_bound(auth::kMaxBase32Chars, 'A');
  EXPECT_NE(ParseOk("users:\n" + User("alice", "    totp: " + at_bound + "\n")), nullptr);
  const std::string message = Error("users:\n" + User("alice", "    totp: A" + at_bound + "\n"));
  EXPECT_NE(message.find("totp: longer than 256 characters"), std::string::npos) << message;
}

TEST(UsersFile, BoundsAppPasswordsPerUser) {
  auto list = [](size_t n) {
    std::string out = "    app_passwords:\n";
    for (size_t i = 0; i < n; ++i) {
      out += "      - { name: p" + std::to_string(i) + ", hash: \"" + kAppHash + "\" }\n";
    }
    return out;
  };
  auto db = ParseOk("users:\n" + User("alice", list(kMaxAppPasswordsPerUser)));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->Find("alice")->app_passwords.size(), kMaxAppPasswordsPerUser);
  EXPECT_NE(Error("users:\n" + User("alice", list(kMaxAppPasswordsPerUser + 1)))
                .find("more than 16 app passwords"),
            std::string::npos);
}

TEST(UsersFile, BoundsTheDomainPolicies) {
  std::string text = "users: {}\ndomains:\n";
  for (size_t i = 0; i < kMaxDomainPolicies; ++i) {
    text += "  d" + std::to_string(i) + ".test: {second_factor: push}\n";
  }
  EXPECT_TRUE(ParseUsersFileEntries(text, kName).ok());
  text += "  more.test: {second_factor: push}\n";
  EXPECT_NE(Error(text).find("more than 1000 domains"), std::string::npos);
  EXPECT_NE(Error("users: {}\ndomains:\n  " + std::string(kMaxDomainBytes + 1, 'd') +
                  ": {second_factor: push}\n")
                .find("not a domain name"),
            std::string::npos);
  EXPECT_NE(Error("users: {}\ndomains:\n  a.test: {second_factor: none}\n  A.TEST: {second_factor: push}\n")
                .find("duplicate domain 'a.test'"),
            std::string::npos);
}

class UsersFileOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/imapgate-users-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& content, mode_t mode = 0600) {
    const std::string path = dir_ + "/users.yaml";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  std::string dir_;
};

TEST_F(UsersFileOnDisk, LoadsAPrivateFile) {
  auto db = LoadUsersFile(Write(kExample));
  ASSERT_TRUE(db.ok()) << db.status().message();
  EXPECT_EQ((*db)->size(), 3u);
}

TEST_F(UsersFileOnDisk, RefusesAFileOthersOrTheGroupCanAccess) {
  for (mode_t mode : {0640, 0604, 0620, 0644}) {
    auto db = LoadUsersFile(Write(kExample, mode));
    ASSERT_FALSE(db.ok());
    EXPECT_NE(db.status().message().find("accessible by group or others"), std::string::npos);
    EXPECT_NE(db.status().message().find("chmod 600"), std::string::npos);
  }
}

TEST_F(UsersFileOnDisk, RefusesMissingOversizedAndNonRegularFiles) {
  auto missing = LoadUsersFile(dir_ + "/nope.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message().rfind(dir_ + "/nope.yaml: cannot read file", 0), 0u);
  auto big = LoadUsersFile(Write(std::string(kMaxUsersFileBytes + 1, '#')));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("larger than"), std::string::npos);
  auto directory = LoadUsersFile(dir_);
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.status().message().find("not a regular file"), std::string::npos);
  // Errors inside the file name the path.
  auto bad = LoadUsersFile(Write("users:\n  alice: {password: x}\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind(dir_ + "/users.yaml:2:", 0), 0u) << bad.status().message();
}

}  // namespace
}  // namespace imapgate::config
