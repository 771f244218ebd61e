// Password hashes: parsing the stored form, verifying a password against it, and making new ones.
//
// Accepted stored forms (crypt(3) strings, as Dovecot and /etc/shadow write them):
//   $y$...            yescrypt (libcrypt)         $2b$ / $2y$ / $2a$...  bcrypt (libcrypt)
//   $6$...            SHA-512-crypt (libcrypt)    $argon2id$ / $argon2i$  Argon2, v=19 (libargon2)
// each optionally behind Dovecot's scheme prefix, for migrating a Dovecot passdb: {CRYPT} (any of
// the libcrypt forms), {BLF-CRYPT}, {SHA512-CRYPT}, {ARGON2ID}, {ARGON2I}. One unsalted form is
// accepted, only behind its prefix: {SHA256} = base64 of SHA-256(password), Dovecot's encoding,
// meant only for long random app passwords (it is fast, so IsSlowHash says false). Plaintext
// ({PLAIN}, {CLEARTEXT}, or anything that is not a recognised hash) is refused. Error messages
// never quote the stored value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace imapgate::auth {

// Longest stored hash accepted, prefix included (the longest real one, argon2 with a 64-byte
// salt and hash, is under 200 bytes).
inline constexpr size_t kMaxStoredHashBytes = 512;
// Longest password VerifyPassword and HashPassword look at; longer ones never match.
inline constexpr size_t kMaxPasswordBytes = 1024;
// Cost ceilings for stored hashes, so a mistyped file cannot make one verification take minutes
// or gigabytes: argon2 m (KiB), t and p; bcrypt's log2 cost; SHA-512-crypt's rounds. yescrypt is
// bounded to the same memory as argon2 (128*N*r bytes).
inline constexpr unsigned kMaxArgon2MemoryKiB = 1024 * 1024;
inline constexpr unsigned kMaxArgon2Passes = 64;
inline constexpr unsigned kMaxArgon2Lanes = 16;
inline constexpr unsigned kMaxBcryptCost = 16;
inline constexpr unsigned kMaxSha512CryptRounds = 1000000;

// The hash algorithm of a stored password.
enum class HashScheme { kYescrypt, kBcrypt, kSha512Crypt, kArgon2id, kArgon2i, kSha256 };

// A parsed stored hash: its scheme and the hash text without any {SCHEME} prefix (for kSha256,
// the base64 digest). A plain value; copyable; holds no password.
struct PasswordHash {
  HashScheme scheme;
  std::string encoded;
};

// ParsePasswordHash checks a stored hash (at most kMaxStoredHashBytes) and says which scheme it
// is. Fails with InvalidArgument: "plaintext passwords are refused", "unknown hash format", a
// prefix that disagrees with the hash, a malformed hash, or a cost beyond the ceilings above.
// Pure; thread-safe.
StatusOr<PasswordHash> ParsePasswordHash(std::string_view stored);

// VerifyPassword says whether `password` matches `hash`. Slow on purpose (the scheme's cost): call
// it from a worker thread, never the event loop. Thread-safe (no shared state). A password longer
// than kMaxPasswordBytes, or containing a NUL byte, never matches. Temporaries are wiped.
bool VerifyPassword(const PasswordHash& hash, std::string_view password);

// HashPassword hashes `password` with a fresh random salt at the default cost (see
// password_hash.cc: argon2 t=3, m=64 MiB, p=1; yescrypt libcrypt's default; bcrypt cost 12;
// SHA-512-crypt 5000 rounds). Returns the stored form, which ParsePasswordHash accepts: a bare
// crypt string, or "{SHA256}<base64>" for kSha256. For tools, tests and the demo. Thread-safe.
StatusOr<std::string> HashPassword(HashScheme scheme, std::string_view password);

// HashWithCostOf hashes `password` with the scheme and cost of `model` (a parsed hash): for the
// crypt schemes with the model's own setting (its salt and cost), for argon2 with its m, t and
// p and a fresh salt. Used for the dummy hash that makes an unknown user cost as much as a known
// one. Thread-safe.
StatusOr<PasswordHash> HashWithCostOf(const PasswordHash& model, std::string_view password);

// HashSchemeName names a scheme for logs and tools: "yescrypt", "bcrypt", "sha512-crypt",
// "argon2id", "argon2i", "sha256".
std::string_view HashSchemeName(HashScheme scheme);

// IsSlowHash says whether the scheme is a deliberately slow password hash (all but kSha256).
bool IsSlowHash(HashScheme scheme);

}  // namespace imapgate::auth
