#include "auth/user_database.h"

#include <array>

#include "tls/crypto.h"

namespace imapgate::auth {

StatusOr<std::shared_ptr<const UserDatabase>> UserDatabase::Create(std::vector<UserRecord> users,
                                                                   DomainPolicies domain_policies) {
  std::shared_ptr<UserDatabase> db(new UserDatabase());
  for (size_t i = 0; i < users.size(); ++i) {
    if (users[i].name.empty()) return InvalidArgument("empty user name");
    if (!db->index_.emplace(users[i].name, i).second) {
      return InvalidArgument("duplicate user " + users[i].name);
    }
  }
  // The dummy password: 32 random bytes as hex (no NUL), wiped after use.
  std::array<uint8_t, 32> random{};
  tls::RandomBytes(random);
  std::array<char, 64> text{};
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < random.size(); ++i) {
    text[2 * i] = kHex[random[i] >> 4];
    text[2 * i + 1] = kHex[random[i] & 15];
  }
  const std::string_view password(text.data(), text.size());
  StatusOr<PasswordHash> dummy =
      users.empty() ? HashWithCostOf(PasswordHash{HashScheme::kSha256, {}}, password)
                    : HashWithCostOf(users.front().password, password);
  SecureWipe(random.data(), random.size());
  SecureWipe(text.data(), text.size());
  if (!dummy.ok()) return Internal("cannot make the dummy hash: " + dummy.status().message());
  db->dummy_hash_ = std::move(*dummy);
  db->users_ = std::move(users);
  db->domain_policies_ = std::move(domain_policies);
  return std::shared_ptr<const UserDatabase>(std::move(db));
}

const UserRecord* UserDatabase::Find(std::string_view normalized_user) const {
  auto it = index_.find(normalized_user);
  return it == index_.end() ? nullptr : &users_[it->second];
}

SecondFactorPolicy UserDatabase::PolicyFor(const UserRecord& user) const {
  if (user.second_factor) return *user.second_factor;
  const size_t at = user.name.rfind('@');
  if (at != std::string::npos) {
    auto it = domain_policies_.find(std::string_view(user.name).substr(at + 1));
    if (it != domain_policies_.end()) return it->second;
  }
  return user.totp_key.empty() ? SecondFactorPolicy::kNone : SecondFactorPolicy::kTotp;
}

}  // namespace imapgate::auth
