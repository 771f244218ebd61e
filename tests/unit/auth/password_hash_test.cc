// Unit tests for auth/password_hash.h. The fixed hashes were made outside this code: the crypt
// ones with Python's crypt module (libcrypt), the argon2 ones with the argon2 CLI, the {SHA256}
// ones with Python's hashlib; all hash the password "password".
#include "auth/password_hash.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace imapgate::auth {
namespace {

constexpr char kYescrypt[] = "$y$j9T$abcdefghijklmnop$7asOTx5b6Exfl3myM6K0pLBn.I2hsEvu7G0F7NMfaO.";
constexpr char kBcrypt2b[] = "$2b$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu";
constexpr char kBcrypt2y[] = "$2y$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu";
constexpr char kSha512[] =
    "$6$saltsaltsalt$hu2MB85GKhCdSuPyy/Ac2I1avaZTRAa9f2YbpKlogMwpK13RIetDflQrNI0bK/af8sX3q7/"
    "Mi4VFc44T.vgRQ/";
constexpr char kSha512Rounds[] =
    "$6$rounds=1000$saltsaltsalt$Lxdcj6QqID8/jtXQ3qYoHFSyhvNGzWeQ2b/gWnq08sEA0queNv8EKKyxA7wza/"
    "SR0xPC2ChVUC2ae8i2pm9sO/";
constexpr char kArgon2id[] =
    "$argon2id$v=19$m=1024,t=1,p=2$c29tZXNhbHQxMjM0NTY3OA$V2IJqs+q+sFf+nv2Zkyr9WBiy8UPbppGkMz2nPdfe6w";
constexpr char kArgon2i[] =
    "$argon2i$v=19$m=4096,t=2,p=1$c29tZXNhbHQxMjM0NTY3OA$waUhv/9v/LR2PFC8ZZXsJXa2G1/yGF7tTE420vc4awA";
constexpr char kSha256[] = "{SHA256}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=";

PasswordHash Parse(std::string_view stored) {
  StatusOr<PasswordHash> hash = ParsePasswordHash(stored);
  EXPECT_TRUE(hash.ok()) << hash.status().message();
  return hash.ok() ? *hash : PasswordHash{HashScheme::kSha256, ""};
}

// The error message of a refused hash (the test fails if it was accepted).
std::string Refusal(std::string_view stored) {
  StatusOr<PasswordHash> hash = ParsePasswordHash(stored);
  EXPECT_FALSE(hash.ok());
  return hash.ok() ? "" : hash.status().message();
}

TEST(ParsePasswordHash, RecognisesEachScheme) {
  EXPECT_EQ(Parse(kYescrypt).scheme, HashScheme::kYescrypt);
  EXPECT_EQ(Parse(kBcrypt2b).scheme, HashScheme::kBcrypt);
  EXPECT_EQ(Parse(kBcrypt2y).scheme, HashScheme::kBcrypt);
  EXPECT_EQ(Parse(kSha512).scheme, HashScheme::kSha512Crypt);
  EXPECT_EQ(Parse(kSha512Rounds).scheme, HashScheme::kSha512Crypt);
  EXPECT_EQ(Parse(kArgon2id).scheme, HashScheme::kArgon2id);
  EXPECT_EQ(Parse(kArgon2i).scheme, HashScheme::kArgon2i);
  EXPECT_EQ(Parse(kSha256).scheme, HashScheme::kSha256);
  EXPECT_EQ(Parse(kYescrypt).encoded, kYescrypt);
  EXPECT_EQ(Parse(kSha256).encoded, "XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=");
}

TEST(ParsePasswordHash, AcceptsMatchingDovecotPrefixesAndStripsThem) {
  EXPECT_EQ(Parse(std::string("{CRYPT}") + kYescrypt).encoded, kYescrypt);
  EXPECT_EQ(Parse(std::string("{CRYPT}") + kSha512).scheme, HashScheme::kSha512Crypt);
  EXPECT_EQ(Parse(std::string("{CRYPT}") + kBcrypt2b).scheme, HashScheme::kBcrypt);
  EXPECT_EQ(Parse(std::string("{BLF-CRYPT}") + kBcrypt2y).encoded, kBcrypt2y);
  EXPECT_EQ(Parse(std::string("{SHA512-CRYPT}") + kSha512).encoded, kSha512);
  EXPECT_EQ(Parse(std::string("{ARGON2ID}") + kArgon2id).encoded, kArgon2id);
  EXPECT_EQ(Parse(std::string("{argon2i}") + kArgon2i).scheme, HashScheme::kArgon2i);
}

TEST(ParsePasswordHash, RefusesAPrefixThatDisagreesWithTheHash) {
  EXPECT_NE(Refusal(std::string("{BLF-CRYPT}") + kSha512).find("disagrees"), std::string::npos);
  EXPECT_NE(Refusal(std::string("{ARGON2I}") + kArgon2id).find("disagrees"), std::string::npos);
  EXPECT_NE(Refusal(std::string("{CRYPT}") + kArgon2id).find("disagrees"), std::string::npos);
  EXPECT_NE(Refusal(std::string("{SHA512-CRYPT}") + kYescrypt).find("disagrees"), std::string::npos);
  // {SHA256} only takes its base64 digest.
  Refusal(std::string("{SHA256}") + kSha512);
}

TEST(ParsePasswordHash, RefusesPlaintextWithoutEchoingIt) {
  for (const char* stored : {"{PLAIN}hunter2secret", "{CLEARTEXT}hunter2secret", "{plain}hunter2secret"}) {
    const std::string message = Refusal(stored);
    EXPECT_NE(message.find("plaintext passwords are refused"), std::string::npos) << stored;
    EXPECT_EQ(message.find("hunter2"), std::string::npos);
  }
  const std::string bare = Refusal("hunter2secret");
  EXPECT_NE(bare.find("unknown hash format"), std::string::npos);
  EXPECT_EQ(bare.find("hunter2"), std::string::npos);
  const std::string unknown = Refusal("{SSHA512}aHVudGVyMnNlY3JldA==");
  EXPECT_NE(unknown.find("unknown hash format"), std::string::npos);
  EXPECT_EQ(unknown.find("aHVudGVy"), std::string::npos);
  // Nor is an unknown prefix quoted: a plaintext password may look like one.
  EXPECT_EQ(Refusal("{Summer2026}").find("Summer"), std::string::npos);
  Refusal("{}$6$x");
  Refusal("");
  Refusal("$1$saltsalt$hash");  // MD5-crypt: not accepted
}

TEST(ParsePasswordHash, RefusesMalformedHashes) {
  const std::string yescrypt = kYescrypt;
  Refusal(yescrypt.substr(0, yescrypt.size() - 1));           // truncated
  Refusal("$y$j9T$abcdefghijklmnop$");                         // a bare setting
  Refusal(std::string(kBcrypt2b).substr(0, 30));
  Refusal("$2x$05$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu");
  Refusal(std::string(kSha512) + "x");
  Refusal("$argon2id$v=16$m=1024,t=1,p=2$c29tZXNhbHQxMjM0NTY3OA$V2IJqs+q+sFf+nv2Zkyr9WBiy8UPbppGkMz2nPdfe6w");
  Refusal("$argon2id$v=19$t=1,m=1024,p=2$c29tZXNhbHQxMjM0NTY3OA$V2IJqs+q+sFf+nv2Zkyr9WBiy8UPbppGkMz2nPdfe6w");
  Refusal("$argon2id$v=19$m=1024,t=1,p=2$c29tZXNhbHQxMjM0NTY3OA$V2IJ");
  Refusal(std::string(kArgon2id) + "\n");
  Refusal("{SHA256}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg");   // unpadded
  Refusal("{SHA256}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQth=");  // non-canonical last char
}

TEST(ParsePasswordHash, BoundsTheLength) {
  std::string at_bound = std::string(kArgon2id);
  at_bound.resize(kMaxStoredHashBytes, 'A');
  EXPECT_EQ(Refusal(at_bound).find("longer than"), std::string::npos);  // refused for its shape
  std::string over = at_bound + "A";
  EXPECT_NE(Refusal(over).find("longer than 512 bytes"), std::string::npos);
}

TEST(ParsePasswordHash, BoundsTheCost) {
  EXPECT_TRUE(ParsePasswordHash("$2b$16$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu").ok());
  EXPECT_NE(Refusal("$2b$17$abcdefghijklmnopqrstuuWG29KuyeAicPCJODk1zjyGvyQUU2awu").find("cost"),
            std::string::npos);
  const std::string salt_hash = "$c29tZXNhbHQxMjM0NTY3OA$V2IJqs+q+sFf+nv2Zkyr9WBiy8UPbppGkMz2nPdfe6w";
  EXPECT_TRUE(ParsePasswordHash("$argon2id$v=19$m=1048576,t=64,p=16" + salt_hash).ok());
  EXPECT_NE(Refusal("$argon2id$v=19$m=1048577,t=1,p=1" + salt_hash).find("cost"), std::string::npos);
  EXPECT_NE(Refusal("$argon2id$v=19$m=65536,t=65,p=1" + salt_hash).find("cost"), std::string::npos);
  EXPECT_NE(Refusal("$argon2id$v=19$m=65536,t=1,p=17" + salt_hash).find("cost"), std::string::npos);
  const std::string sha = std::string(kSha512Rounds).substr(std::string("$6$rounds=1000").size());
  EXPECT_TRUE(ParsePasswordHash("$6$rounds=1000000" + sha).ok());
  EXPECT_NE(Refusal("$6$rounds=1000001" + sha).find("rounds"), std::string::npos);
  // yescrypt: 128*N*r bytes, N=2^(1+index), r=1+index: "j9T" is 16 MiB, "jFT" (N=2^18, r=32)
  // 1 GiB, "jGT" 2 GiB.
  const std::string tail = std::string(kYescrypt).substr(6);
  EXPECT_TRUE(ParsePasswordHash("$y$jFT" + tail).ok());
  EXPECT_NE(Refusal("$y$jGT" + tail).find("too costly"), std::string::npos);
}

TEST(VerifyPassword, MatchesKnownHashesOfEachScheme) {
  for (const char* stored : {kYescrypt, kBcrypt2b, kBcrypt2y, kSha512, kSha512Rounds, kArgon2id,
                             kArgon2i, kSha256}) {
    const PasswordHash hash = Parse(stored);
    EXPECT_TRUE(VerifyPassword(hash, "password")) << HashSchemeName(hash.scheme);
    EXPECT_FALSE(VerifyPassword(hash, "passwore")) << HashSchemeName(hash.scheme);
    EXPECT_FALSE(VerifyPassword(hash, "")) << HashSchemeName(hash.scheme);
  }
}

TEST(VerifyPassword, NeverMatchesAPasswordWithANulByte) {
  // crypt(3) reads a C string: without the check "password\0x" would match "password".
  EXPECT_FALSE(VerifyPassword(Parse(kBcrypt2b), std::string_view("password\0x", 10)));
  EXPECT_FALSE(VerifyPassword(Parse(kSha512), std::string_view("password\0", 9)));
}

TEST(VerifyPassword, BoundsThePasswordLength) {
  const PasswordHash at_bound = Parse("{SHA256}LtyYaEfiCbQBbhQabchxbTIHNQ9BaWk4LUMVOb8pLko=");
  EXPECT_TRUE(VerifyPassword(at_bound, std::string(kMaxPasswordBytes, 'a')));
  const PasswordHash over = Parse("{SHA256}SoIpeInrUFz2tcvfaZd6+rRjLWVXU5eC9le9fceAkaU=");
  EXPECT_FALSE(VerifyPassword(over, std::string(kMaxPasswordBytes + 1, 'a')));
  EXPECT_FALSE(HashPassword(HashScheme::kSha256, std::string(kMaxPasswordBytes + 1, 'a')).ok());
}

TEST(VerifyPassword, IsThreadSafe) {
  const PasswordHash hash = Parse(kYescrypt);
  std::vector<std::thread> threads;
  std::vector<int> results(4, 0);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 3; ++j) results[i] += VerifyPassword(hash, "password") ? 1 : 0;
    });
  }
  for (std::thread& t : threads) t.join();
  for (int r : results) EXPECT_EQ(r, 3);
}

TEST(HashPassword, RoundTripsEachSchemeAtTheDefaultCost) {
  const std::vector<std::pair<HashScheme, std::string>> expected_prefix = {
      {HashScheme::kYescrypt, "$y$j9T$"},
      {HashScheme::kBcrypt, "$2b$12$"},
      {HashScheme::kSha512Crypt, "$6$"},
      {HashScheme::kArgon2id, "$argon2id$v=19$m=65536,t=3,p=1$"},
      {HashScheme::kArgon2i, "$argon2i$v=19$m=65536,t=3,p=1$"},
      {HashScheme::kSha256, "{SHA256}"}};
  for (const auto& [scheme, prefix] : expected_prefix) {
    StatusOr<std::string> stored = HashPassword(scheme, "correct horse");
    ASSERT_TRUE(stored.ok()) << stored.status().message();
    EXPECT_EQ(stored->rfind(prefix, 0), 0u) << HashSchemeName(scheme);
    const PasswordHash hash = Parse(*stored);
    EXPECT_EQ(hash.scheme, scheme);
    EXPECT_TRUE(VerifyPassword(hash, "correct horse")) << HashSchemeName(scheme);
    EXPECT_FALSE(VerifyPassword(hash, "correct horsf")) << HashSchemeName(scheme);
  }
}

TEST(HashPassword, UsesAFreshSaltEachTime) {
  StatusOr<std::string> a = HashPassword(HashScheme::kYescrypt, "same");
  StatusOr<std::string> b = HashPassword(HashScheme::kYescrypt, "same");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
}

TEST(HashWithCostOf, KeepsTheModelsSchemeAndCost) {
  StatusOr<PasswordHash> bcrypt = HashWithCostOf(Parse(kBcrypt2b), "other");
  ASSERT_TRUE(bcrypt.ok());
  EXPECT_EQ(bcrypt->encoded.rfind("$2b$05$", 0), 0u);
  EXPECT_TRUE(VerifyPassword(*bcrypt, "other"));
  StatusOr<PasswordHash> argon = HashWithCostOf(Parse(kArgon2i), "other");
  ASSERT_TRUE(argon.ok());
  EXPECT_EQ(argon->encoded.rfind("$argon2i$v=19$m=4096,t=2,p=1$", 0), 0u);
  EXPECT_TRUE(VerifyPassword(*argon, "other"));
  EXPECT_TRUE(ParsePasswordHash(argon->encoded).ok());
  StatusOr<PasswordHash> yes = HashWithCostOf(Parse(kYescrypt), "other");
  ASSERT_TRUE(yes.ok());
  EXPECT_EQ(yes->encoded.rfind("$y$j9T$", 0), 0u);
  EXPECT_TRUE(VerifyPassword(*yes, "other"));
}

TEST(HashScheme, NamesAndSlowness) {
  EXPECT_EQ(HashSchemeName(HashScheme::kYescrypt), "yescrypt");
  EXPECT_EQ(HashSchemeName(HashScheme::kSha512Crypt), "sha512-crypt");
  EXPECT_EQ(HashSchemeName(HashScheme::kArgon2id), "argon2id");
  EXPECT_TRUE(IsSlowHash(HashScheme::kBcrypt));
  EXPECT_TRUE(IsSlowHash(HashScheme::kArgon2i));
  EXPECT_FALSE(IsSlowHash(HashScheme::kSha256));
}

}  // namespace
}  // namespace imapgate::auth
