// The users-file check (CheckUsersFile) and the second-factor decision (DecideSecondFactor):
// passwords, TOTP suffixes, replays, app passwords and remembered devices, with an injected time.
#include "auth/file_check.h"

#include <gtest/gtest.h>

#include <string>

#include "tls/crypto.h"

namespace imapgate::auth {
namespace {

constexpr char kBcrypt[] = "$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu";  // "password"
constexpr char kTotpSecret[] = "12345678901234567890";  // RFC 6238's SHA-1 key (raw bytes)
constexpr int64_t kNow = 1111111109;                     // an RFC 6238 test time

std::string Code(int64_t unix_seconds) {
  std::string code = std::to_string(Hotp(kTotpSecret, static_cast<uint64_t>(unix_seconds / 30), 6));
  return std::string(6 - code.size(), '0') + code;
}

std::string AppHash(std::string_view app_password) {
  StatusOr<std::string> h = HashPassword(HashScheme::kSha256, app_password);
  EXPECT_TRUE(h.ok());
  return h.ok() ? *h : "";
}

class FileCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<UserRecord> users;
    UserRecord alice;
    alice.name = "alice@demo.test";
    alice.password = *ParsePasswordHash(kBcrypt);
    users.push_back(std::move(alice));
    UserRecord carol;
    carol.name = "carol@demo.test";
    carol.password = *ParsePasswordHash(kBcrypt);
    carol.totp_key = SecretString(kTotpSecret);
    carol.app_passwords.push_back(AppPassword{"phone", *ParsePasswordHash(AppHash("app-secret-123456"))});
    users.push_back(std::move(carol));
    UserRecord dave;
    dave.name = "dave@demo.test";
    dave.password = *ParsePasswordHash(kBcrypt);
    dave.second_factor = SecondFactorPolicy::kPush;
    users.push_back(std::move(dave));
    auto db = UserDatabase::Create(std::move(users), {});
    ASSERT_TRUE(db.ok()) << db.status().message();
    db_ = *db;
    state_.replay = &replay_;
    state_.remembered = &remembered_;
    state_.hasher = &hasher_;
    state_.remember_seconds = 0;  // each test turns it on when it wants it
  }

  FactorResult Decide(const std::string& user, const FileCheck& check, int64_t now, std::string_view device = "192.0.2.1") {
    const UserRecord* record = db_->Find(user);
    EXPECT_NE(record, nullptr);
    return DecideSecondFactor(check, *record, db_->PolicyFor(*record), user, device, now, state_);
  }

  std::shared_ptr<const UserDatabase> db_;
  TotpReplayCache replay_{100};
  ExpiringCache<uint8_t> remembered_{100};
  KeyedHasher hasher_;
  SecondFactorState state_;
};

TEST_F(FileCheckTest, PasswordWithoutSecondFactor) {
  FileCheck ok = CheckUsersFile(*db_, "alice@demo.test", "password");
  EXPECT_EQ(ok.kind, FileCheck::Kind::kPassword);
  EXPECT_EQ(ok.backend_password.view(), "password");
  EXPECT_EQ(Decide("alice@demo.test", ok, kNow), FactorResult::kNotRequired);
  EXPECT_EQ(CheckUsersFile(*db_, "alice@demo.test", "Password").kind, FileCheck::Kind::kBadPassword);
  EXPECT_EQ(CheckUsersFile(*db_, "nobody@demo.test", "password").kind, FileCheck::Kind::kUnknownUser);
}

TEST_F(FileCheckTest, TotpCodeIsSplitOffCheckedAndNeverAcceptedTwice) {
  const std::string code = Code(kNow);
  FileCheck check = CheckUsersFile(*db_, "carol@demo.test", "password" + code);
  ASSERT_EQ(check.kind, FileCheck::Kind::kPassword);
  EXPECT_EQ(check.backend_password.view(), "password");  // what the backend gets: no code
  EXPECT_EQ(check.code.view(), code);
  EXPECT_EQ(Decide("carol@demo.test", check, kNow), FactorResult::kTotpOk);
  // The same code again, even a second later: refused.
  FileCheck again = CheckUsersFile(*db_, "carol@demo.test", "password" + code);
  EXPECT_EQ(Decide("carol@demo.test", again, kNow + 1), FactorResult::kTotpReplayed);
  // The next step's code is fresh: accepted.
  FileCheck next = CheckUsersFile(*db_, "carol@demo.test", "password" + Code(kNow + 30));
  EXPECT_EQ(Decide("carol@demo.test", next, kNow + 30), FactorResult::kTotpOk);
}

TEST_F(FileCheckTest, MissingOrWrongCodeFails) {
  EXPECT_EQ(CheckUsersFile(*db_, "carol@demo.test", "password").kind, FileCheck::Kind::kBadPassword);
  FileCheck wrong = CheckUsersFile(*db_, "carol@demo.test", "password000000");
  ASSERT_EQ(wrong.kind, FileCheck::Kind::kPassword);  // the password part was right...
  const std::string right = Code(kNow);
  if (right != "000000") EXPECT_EQ(Decide("carol@demo.test", wrong, kNow), FactorResult::kTotpBad);
  // An expired code (two steps old) fails.
  FileCheck old = CheckUsersFile(*db_, "carol@demo.test", "password" + Code(kNow - 60));
  EXPECT_EQ(Decide("carol@demo.test", old, kNow), FactorResult::kTotpBad);
  // A wrong password with a right code fails at the password.
  EXPECT_EQ(CheckUsersFile(*db_, "carol@demo.test", "passwore" + Code(kNow)).kind, FileCheck::Kind::kBadPassword);
}

TEST_F(FileCheckTest, AppPasswordSatisfiesTheSecondFactorAlone) {
  FileCheck app = CheckUsersFile(*db_, "carol@demo.test", "app-secret-123456");
  ASSERT_EQ(app.kind, FileCheck::Kind::kAppPassword);
  EXPECT_EQ(app.app_password, "phone");
  EXPECT_EQ(Decide("carol@demo.test", app, kNow), FactorResult::kAppPassword);
  // Another user's app password is nothing to alice.
  EXPECT_EQ(CheckUsersFile(*db_, "alice@demo.test", "app-secret-123456").kind, FileCheck::Kind::kBadPassword);
}

TEST_F(FileCheckTest, RememberedDeviceSkipsTheCodeForItsWindowOnly) {
  state_.remember_seconds = 3600;
  FileCheck first = CheckUsersFile(*db_, "carol@demo.test", "password" + Code(kNow));
  ASSERT_EQ(Decide("carol@demo.test", first, kNow, "192.0.2.1"), FactorResult::kTotpOk);
  // Same device, the stored password and old code: remembered.
  FileCheck stale = CheckUsersFile(*db_, "carol@demo.test", "password" + Code(kNow));
  EXPECT_EQ(Decide("carol@demo.test", stale, kNow + 600, "192.0.2.1"), FactorResult::kRemembered);
  // Another device, within the code's window: the code is checked, and it was used.
  EXPECT_EQ(Decide("carol@demo.test", stale, kNow + 10, "192.0.2.2"), FactorResult::kTotpReplayed);
  // Another device later: the code has expired.
  EXPECT_EQ(Decide("carol@demo.test", stale, kNow + 600, "192.0.2.2"), FactorResult::kTotpBad);
  // After the window: checked again.
  EXPECT_EQ(Decide("carol@demo.test", stale, kNow + 3601, "192.0.2.1"), FactorResult::kTotpBad);
}

TEST_F(FileCheckTest, PushPolicyAsksTheHookUnlessRemembered) {
  state_.remember_seconds = 3600;
  FileCheck check = CheckUsersFile(*db_, "dave@demo.test", "password");
  ASSERT_EQ(check.kind, FileCheck::Kind::kPassword);
  EXPECT_EQ(Decide("dave@demo.test", check, kNow), FactorResult::kPushNeeded);
  RememberDevice(state_, "dave@demo.test", "192.0.2.1", kNow);
  EXPECT_EQ(Decide("dave@demo.test", check, kNow + 10), FactorResult::kRemembered);
  EXPECT_EQ(Decide("dave@demo.test", check, kNow + 10, "192.0.2.9"), FactorResult::kPushNeeded);
}

TEST(FactorResultTest, OnlyTheGoodOnesPass) {
  EXPECT_TRUE(FactorPassed(FactorResult::kNotRequired));
  EXPECT_TRUE(FactorPassed(FactorResult::kAppPassword));
  EXPECT_TRUE(FactorPassed(FactorResult::kRemembered));
  EXPECT_TRUE(FactorPassed(FactorResult::kTotpOk));
  EXPECT_FALSE(FactorPassed(FactorResult::kTotpBad));
  EXPECT_FALSE(FactorPassed(FactorResult::kTotpReplayed));
  EXPECT_FALSE(FactorPassed(FactorResult::kPushNeeded));
}

}  // namespace
}  // namespace imapgate::auth
