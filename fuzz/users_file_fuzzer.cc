// Fuzz target for the users file (config/users_file.h): arbitrary text yields entries or
// "FILE:LINE:COL: message" errors, never a crash. Accepted entries respect every bound, carry
// normalized names, and build a UserDatabase that finds each user. The database (whose dummy hash
// costs as much as the first user's hash) is only built when that first hash is the fast
// {SHA256}, so the fuzzer does not spend its time in argon2.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/users_file.h"
#include "route/normalize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string file = "/fuzz/users.yaml";
  auto entries = imapgate::config::ParseUsersFileEntries(text, file, "example.com");
  if (!entries.ok()) {
    if (entries.status().message().rfind(file + ":", 0) != 0) abort();
    return 0;
  }
  if (entries->users.size() > imapgate::config::kMaxUsers) abort();
  if (entries->domains.size() > imapgate::config::kMaxDomainPolicies) abort();
  for (const auto& user : entries->users) {
    if (user.name.empty() || user.name.size() > imapgate::route::kMaxUserBytes) abort();
    for (char c : user.name) {
      if (c >= 'A' && c <= 'Z') abort();
    }
    if (user.app_passwords.size() > imapgate::config::kMaxAppPasswordsPerUser) abort();
    if (!user.totp_key.empty() && user.totp_key.size() < imapgate::config::kMinTotpKeyBytes) abort();
    if (user.line < 1) abort();
  }
  if (!entries->users.empty() &&
      entries->users.front().password.scheme != imapgate::auth::HashScheme::kSha256) {
    return 0;
  }
  auto db = imapgate::config::ParseUsersFile(text, file, "example.com");
  if (!db.ok()) abort();  // the same text parsed above
  if ((*db)->size() != entries->users.size()) abort();
  for (const auto& user : entries->users) {
    const imapgate::auth::UserRecord* found = (*db)->Find(user.name);
    if (found == nullptr || found->name != user.name) abort();
    (void)(*db)->PolicyFor(*found);
  }
  return 0;
}
