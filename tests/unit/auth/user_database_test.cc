// Unit tests for auth/user_database.h: lookup, the second-factor policy order and the dummy hash.
#include "auth/user_database.h"

#include <gtest/gtest.h>

namespace imapgate::auth {
namespace {

constexpr char kUserDbBcrypt[] = "$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu";  // "password"

UserRecord User(std::string name, std::string_view totp_key = {},
                std::optional<SecondFactorPolicy> policy = std::nullopt) {
  UserRecord user;
  user.name = std::move(name);
  user.password = *ParsePasswordHash(kUserDbBcrypt);
  user.totp_key = SecretString(totp_key);
  user.second_factor = policy;
  return user;
}

std::shared_ptr<const UserDatabase> Build(std::vector<UserRecord> users, DomainPolicies domains = {}) {
  StatusOr<std::shared_ptr<const UserDatabase>> db =
      UserDatabase::Create(std::move(users), std::move(domains));
  EXPECT_TRUE(db.ok()) << db.status().message();
  return db.ok() ? *db : nullptr;
}

TEST(UserDatabase, FindsUsersByNormalizedName) {
  std::vector<UserRecord> users;
  users.push_back(User("alice@demo.test"));
  users.push_back(User("bob@demo.test"));
  auto db = Build(std::move(users));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->size(), 2u);
  ASSERT_NE(db->Find("bob@demo.test"), nullptr);
  EXPECT_EQ(db->Find("bob@demo.test")->name, "bob@demo.test");
  EXPECT_EQ(db->Find("carol@demo.test"), nullptr);
  EXPECT_EQ(db->Find("Bob@demo.test"), nullptr);  // callers normalize first
}

TEST(UserDatabase, RefusesDuplicateUsers) {
  std::vector<UserRecord> users;
  users.push_back(User("alice@demo.test"));
  users.push_back(User("alice@demo.test"));
  EXPECT_FALSE(UserDatabase::Create(std::move(users), {}).ok());
}

TEST(UserDatabase, PolicyIsTheUsersThenTheDomainsThenTotpWhenKeyed) {
  std::vector<UserRecord> users;
  users.push_back(User("own@push.test", "0123456789", SecondFactorPolicy::kNone));
  users.push_back(User("domain@push.test", "0123456789"));
  users.push_back(User("keyed@plain.test", "0123456789"));
  users.push_back(User("plain@plain.test"));
  users.push_back(User("bare"));
  auto db = Build(std::move(users), {{"push.test", SecondFactorPolicy::kPush}});
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->PolicyFor(*db->Find("own@push.test")), SecondFactorPolicy::kNone);
  EXPECT_EQ(db->PolicyFor(*db->Find("domain@push.test")), SecondFactorPolicy::kPush);
  EXPECT_EQ(db->PolicyFor(*db->Find("keyed@plain.test")), SecondFactorPolicy::kTotp);
  EXPECT_EQ(db->PolicyFor(*db->Find("plain@plain.test")), SecondFactorPolicy::kNone);
  EXPECT_EQ(db->PolicyFor(*db->Find("bare")), SecondFactorPolicy::kNone);
}

TEST(UserDatabase, DummyHashHasTheFirstUsersSchemeAndCost) {
  std::vector<UserRecord> users;
  users.push_back(User("alice@demo.test"));
  auto db = Build(std::move(users));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->dummy_hash().scheme, HashScheme::kBcrypt);
  EXPECT_EQ(db->dummy_hash().encoded.rfind("$2b$05$", 0), 0u);
  EXPECT_NE(db->dummy_hash().encoded, kUserDbBcrypt);
  EXPECT_FALSE(VerifyPassword(db->dummy_hash(), "password"));
  EXPECT_TRUE(ParsePasswordHash(db->dummy_hash().encoded).ok());
}

TEST(UserDatabase, EmptyDatabaseStillHasADummyHash) {
  auto db = Build({});
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->size(), 0u);
  EXPECT_EQ(db->dummy_hash().encoded.size(), 44u);
  EXPECT_FALSE(VerifyPassword(db->dummy_hash(), ""));
}

}  // namespace
}  // namespace imapgate::auth
