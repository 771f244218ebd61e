// UserDatabase: the proxy's own users (the users file, config/users_file.h), looked up by
// normalized user name at login.
//
// Immutable once built, so it is shared read-only between threads (std::shared_ptr<const>) and
// swapped whole on reload. Holds password hashes and TOTP keys (wiped on destruction), never a
// plaintext password.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/password_hash.h"
#include "common/secret.h"
#include "common/status.h"

namespace imapgate::auth {

// An application password: a separate credential (e.g. for a phone's mail app) that satisfies
// the second factor on its own.
struct AppPassword {
  std::string name;
  PasswordHash hash;
};

// What a user must present besides the password.
enum class SecondFactorPolicy { kNone, kTotp, kPush };

// One user of the users file. Move-only (the TOTP key is a SecretString).
struct UserRecord {
  std::string name;                 // normalized (route/normalize.h)
  PasswordHash password;
  std::optional<std::string> shard;  // a route for the router, when set
  SecretString totp_key;            // decoded TOTP key bytes; empty = none
  std::vector<AppPassword> app_passwords;
  std::optional<SecondFactorPolicy> second_factor;  // the user's own setting, when set
  int line = 0;                     // 1-based line in the users file, for messages
};

// Second-factor policies by domain (lowercase domain -> policy).
using DomainPolicies = std::map<std::string, SecondFactorPolicy, std::less<>>;

// UserDatabase is the immutable set of users. Thread-safe for reading.
class UserDatabase {
 public:
  // Builds the database. Fails on a duplicate or empty user name, or when the dummy hash cannot
  // be made. Hashes a random password once with the first user's scheme and cost (slow: call at
  // load time, off the event loop).
  static StatusOr<std::shared_ptr<const UserDatabase>> Create(std::vector<UserRecord> users,
                                                             DomainPolicies domain_policies);

  // The user with this normalized name, or nullptr. The pointer lives as long as the database.
  const UserRecord* Find(std::string_view normalized_user) const;
  // Every user, in file order (for the app-password revocation diff).
  const std::vector<UserRecord>& users() const { return users_; }

  // The second factor `user` must give: its own setting, else its domain's, else kTotp when it
  // has a TOTP key, else kNone.
  SecondFactorPolicy PolicyFor(const UserRecord& user) const;

  // A hash of a random password with the same scheme and cost as the first user's (an
  // {SHA256} hash for an empty database): verify against it for an unknown user, so that
  // failing costs the same work as for a known one. Never matches in practice.
  const PasswordHash& dummy_hash() const { return dummy_hash_; }

  // The number of users.
  size_t size() const { return users_.size(); }

 private:
  UserDatabase() = default;

  std::vector<UserRecord> users_;
  std::map<std::string, size_t, std::less<>> index_;
  DomainPolicies domain_policies_;
  PasswordHash dummy_hash_{HashScheme::kSha256, {}};
};

}  // namespace imapgate::auth
