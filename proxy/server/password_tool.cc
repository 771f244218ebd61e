#include "server/password_tool.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "auth/password_hash.h"
#include "common/secret.h"
#include "tls/crypto.h"

namespace imapgate::server {
namespace {

constexpr size_t kMaxPasswordBytes = 1024;
// App passwords: 24 characters from a 32-letter alphabet without look-alikes: 120 bits.
constexpr char kAppAlphabet[] = "abcdefghjkmnpqrstuvwxyz23456789A";
constexpr size_t kAppPasswordChars = 24;

}  // namespace

int HashPasswordCommand(const char* scheme_name) {
  const std::string name = scheme_name ? scheme_name : "argon2id";
  auth::HashScheme scheme;
  if (name == "argon2id") {
    scheme = auth::HashScheme::kArgon2id;
  } else if (name == "yescrypt") {
    scheme = auth::HashScheme::kYescrypt;
  } else if (name == "bcrypt") {
    scheme = auth::HashScheme::kBcrypt;
  } else if (name == "sha512-crypt") {
    scheme = auth::HashScheme::kSha512Crypt;
  } else {
    std::fprintf(stderr, "imapgate: unknown hash scheme '%s' (argon2id, yescrypt, bcrypt, sha512-crypt)\n",
                 name.c_str());
    return 2;
  }
  SecretString password;
  {
    std::string line(kMaxPasswordBytes + 2, '\0');
    if (std::fgets(line.data(), static_cast<int>(line.size()), stdin) == nullptr) {
      std::fprintf(stderr, "imapgate: no password on stdin\n");
      return 2;
    }
    size_t n = std::strlen(line.c_str());
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) --n;
    const bool too_long = n > kMaxPasswordBytes;
    password = SecretString(std::string_view(line.data(), n));
    SecureWipe(line.data(), line.size());
    if (too_long) {
      std::fprintf(stderr, "imapgate: password longer than %zu bytes\n", kMaxPasswordBytes);
      return 2;
    }
  }
  if (password.empty()) {
    std::fprintf(stderr, "imapgate: empty password\n");
    return 2;
  }
  auto hash = auth::HashPassword(scheme, password.view());
  if (!hash.ok()) {
    std::fprintf(stderr, "imapgate: %s\n", hash.status().message().c_str());
    return 1;
  }
  std::printf("%s\n", hash->c_str());
  return 0;
}

int NewAppPasswordCommand() {
  uint8_t random[kAppPasswordChars];
  tls::RandomBytes(std::span<uint8_t>(random, sizeof(random)));
  std::string password(kAppPasswordChars, '\0');
  for (size_t i = 0; i < kAppPasswordChars; ++i) password[i] = kAppAlphabet[random[i] % 32];
  SecureWipe(random, sizeof(random));
  auto hash = auth::HashPassword(auth::HashScheme::kSha256, password);
  if (!hash.ok()) {
    SecureWipe(password.data(), password.size());
    std::fprintf(stderr, "imapgate: %s\n", hash.status().message().c_str());
    return 1;
  }
  std::printf("%s\t%s\n", password.c_str(), hash->c_str());
  SecureWipe(password.data(), password.size());
  return 0;
}

}  // namespace imapgate::server
