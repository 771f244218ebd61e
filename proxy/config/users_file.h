// The users file: the proxy's own users, their password hashes, TOTP secrets, app passwords and
// second-factor policy (issue B). YAML:
//
//   users:
//     alice@demo.test:
//       password: "$argon2id$v=19$m=65536,t=3,p=1$..."
//       shard: a                        # optional: a route for the router
//     carol@demo.test:
//       password: "$y$j9T$..."
//       totp: JBSWY3DPEHPK3PXP           # base32 TOTP secret; optional
//       second_factor: totp              # none | totp | push; optional
//       app_passwords:                   # optional; each satisfies 2FA on its own
//         - { name: phone, hash: "{SHA256}..." }
//   domains:                             # optional per-domain policy
//     example.com: { second_factor: push }
//
// User names are normalized as the router does (route/normalize.h: ASCII lowercase, the default
// domain appended to a bare name), so the file and the router agree; two entries that normalize
// alike are an error. Password and app-password hashes go through auth::ParsePasswordHash
// (plaintext is refused). The file holds secrets: it must be a regular file that group and others
// cannot access (chmod 600). Errors are "FILE:LINE:COL: message", one per line, and never quote a
// hash or a TOTP secret.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/user_database.h"
#include "common/status.h"

namespace imapgate::config {

inline constexpr size_t kMaxUsersFileBytes = 4 * 1024 * 1024;
inline constexpr size_t kMaxUsers = 10000;
inline constexpr size_t kMaxDomainPolicies = 1000;
inline constexpr size_t kMaxAppPasswordsPerUser = 16;
inline constexpr size_t kMaxDomainBytes = 255;
// TOTP secrets: at least 10 bytes (80 bits, what most authenticator apps show), at most what
// auth::DecodeBase32 accepts (auth::kMaxBase32Chars characters).
inline constexpr size_t kMinTotpKeyBytes = 10;
// User names: route::kMaxUserBytes after normalization. Hashes: auth::kMaxStoredHashBytes.

// The parsed content of a users file, before the UserDatabase is built (no hashing done).
struct UsersFileEntries {
  std::vector<auth::UserRecord> users;
  auth::DomainPolicies domains;
};

// Parses and checks the text of a users file without building the database (so without the
// slow dummy hash): for the fuzzer and for checks. `name_for_errors` prefixes every error.
StatusOr<UsersFileEntries> ParseUsersFileEntries(std::string_view yaml,
                                                 std::string_view name_for_errors,
                                                 std::string_view default_domain = {});

// Parses the text of a users file and builds the UserDatabase (which hashes a random password
// once at the first user's cost: call it off the event loop). `default_domain` is the router's
// (lowercase; "" = bare names stay bare).
StatusOr<std::shared_ptr<const auth::UserDatabase>> ParseUsersFile(
    std::string_view yaml, std::string_view name_for_errors, std::string_view default_domain = {});

// Reads `path` (a regular file of at most kMaxUsersFileBytes, not accessible by group or others)
// and parses it. A file that cannot be read gives "PATH: why". The text read is wiped after.
StatusOr<std::shared_ptr<const auth::UserDatabase>> LoadUsersFile(
    const std::string& path, std::string_view default_domain = {});

}  // namespace imapgate::config
