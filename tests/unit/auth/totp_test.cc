// Unit tests for auth/totp.h: RFC 4648 base32, RFC 4226 HOTP and RFC 6238 TOTP vectors, the
// password+code split and the replay cache.
#include "auth/totp.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace imapgate::auth {
namespace {

constexpr char kRfcKey[] = "12345678901234567890";

std::string Decoded(std::string_view text) {
  std::optional<SecretString> key = DecodeBase32(text);
  EXPECT_TRUE(key.has_value()) << text;
  return key ? std::string(key->view()) : std::string();
}

TEST(DecodeBase32, MatchesRfc4648Vectors) {
  EXPECT_EQ(Decoded("MY======"), "f");
  EXPECT_EQ(Decoded("MZXQ===="), "fo");
  EXPECT_EQ(Decoded("MZXW6==="), "foo");
  EXPECT_EQ(Decoded("MZXW6YQ="), "foob");
  EXPECT_EQ(Decoded("MZXW6YTB"), "fooba");
  EXPECT_EQ(Decoded("MZXW6YTBOI======"), "foobar");
}

TEST(DecodeBase32, IsCaseInsensitiveAndPaddingIsOptional) {
  EXPECT_EQ(Decoded("mzxw6ytboi"), "foobar");
  EXPECT_EQ(Decoded("MzXw6YtBoI"), "foobar");
  EXPECT_EQ(Decoded("MY"), "f");
  EXPECT_EQ(Decoded("JBSWY3DPEHPK3PXP"), std::string("Hello!\xde\xad\xbe\xef"));
}

TEST(DecodeBase32, RefusesMalformedText) {
  for (const char* bad : {"", "M", "MZX", "MZXW6Y", "MY=", "MY=====", "MY======MY", "MZ1W",
                          "MZXW 6YTB", "MZXW6YTB\n", "M=======", "========"}) {
    EXPECT_FALSE(DecodeBase32(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(DecodeBase32, BoundsTheLength) {
  EXPECT_EQ(DecodeBase32(std::string(kMaxBase32Chars, 'A'))->size(), kMaxBase32Chars * 5 / 8);
  EXPECT_FALSE(DecodeBase32(std::string(kMaxBase32Chars + 8, 'A')).has_value());
}

TEST(Hotp, MatchesRfc4226AppendixD) {
  const uint32_t expected[] = {755224, 287082, 359152, 969429, 338314,
                               254676, 287922, 162583, 399871, 520489};
  for (uint64_t counter = 0; counter < 10; ++counter) {
    EXPECT_EQ(Hotp(kRfcKey, counter, 6), expected[counter]) << counter;
  }
}

TEST(VerifyTotp, MatchesRfc6238AppendixBSha1) {
  const TotpParams params{30, 8, 0};
  const struct {
    int64_t time;
    const char* code;
  } vectors[] = {{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
                 {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
  for (const auto& v : vectors) {
    std::optional<uint64_t> counter = VerifyTotp(kRfcKey, v.code, v.time, params);
    ASSERT_TRUE(counter.has_value()) << v.time;
    EXPECT_EQ(*counter, static_cast<uint64_t>(v.time / 30));
    EXPECT_EQ(Hotp(kRfcKey, *counter, 8), static_cast<uint32_t>(std::stoul(v.code)));
  }
}

TEST(VerifyTotp, MatchesAnAuthenticatorAppSecret) {
  // oathtool --totp -b JBSWY3DPEHPK3PXP -N @1700000000
  const std::string key = Decoded("JBSWY3DPEHPK3PXP");
  EXPECT_EQ(VerifyTotp(key, "324550", 1700000000, {}), std::optional<uint64_t>(1700000000 / 30));
  EXPECT_FALSE(VerifyTotp(key, "324551", 1700000000, {}).has_value());
}

TEST(VerifyTotp, AcceptsOneStepOfSkewAndRefusesTwo) {
  const int64_t now = 1111111111;
  const uint64_t step = now / 30;
  auto code = [](uint64_t counter) {
    std::string text = std::to_string(Hotp(kRfcKey, counter, 6));
    return std::string(6 - text.size(), '0') + text;
  };
  EXPECT_EQ(VerifyTotp(kRfcKey, code(step), now, {}), std::optional<uint64_t>(step));
  EXPECT_EQ(VerifyTotp(kRfcKey, code(step - 1), now, {}), std::optional<uint64_t>(step - 1));
  EXPECT_EQ(VerifyTotp(kRfcKey, code(step + 1), now, {}), std::optional<uint64_t>(step + 1));
  EXPECT_FALSE(VerifyTotp(kRfcKey, code(step - 2), now, {}).has_value());
  EXPECT_FALSE(VerifyTotp(kRfcKey, code(step + 2), now, {}).has_value());
  // With no skew, the neighbours are refused too.
  EXPECT_FALSE(VerifyTotp(kRfcKey, code(step + 1), now, {30, 6, 0}).has_value());
}

TEST(VerifyTotp, RefusesMalformedCodesAndParams) {
  const int64_t now = 59;
  EXPECT_TRUE(VerifyTotp(kRfcKey, "94287082", now, {30, 8, 0}).has_value());
  EXPECT_FALSE(VerifyTotp(kRfcKey, "4287082", now, {30, 8, 0}).has_value());    // too short
  EXPECT_FALSE(VerifyTotp(kRfcKey, "942870820", now, {30, 8, 0}).has_value());  // too long
  EXPECT_FALSE(VerifyTotp(kRfcKey, "9428708a", now, {30, 8, 0}).has_value());
  EXPECT_FALSE(VerifyTotp(kRfcKey, "94287082", -1, {30, 8, 0}).has_value());
  EXPECT_FALSE(VerifyTotp(kRfcKey, "94287082", now, {0, 8, 0}).has_value());
  EXPECT_FALSE(VerifyTotp(kRfcKey, "94287082", now, {30, 8, 11}).has_value());
  EXPECT_FALSE(VerifyTotp(kRfcKey, "9428", now, {30, 4, 0}).has_value());
}

TEST(SplitOtpSuffix, SplitsTrailingDigits) {
  std::optional<OtpSplit> split = SplitOtpSuffix("hunter2123456", 6);
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(split->password, "hunter2");
  EXPECT_EQ(split->code, "123456");
  split = SplitOtpSuffix("p1234567", 6);
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(split->password, "p1");
  EXPECT_EQ(split->code, "234567");
}

TEST(SplitOtpSuffix, RefusesWhatIsNotPasswordPlusCode) {
  EXPECT_FALSE(SplitOtpSuffix("123456", 6).has_value());       // nothing before the code
  EXPECT_FALSE(SplitOtpSuffix("12345", 6).has_value());
  EXPECT_FALSE(SplitOtpSuffix("hunter12345a", 6).has_value());
  EXPECT_FALSE(SplitOtpSuffix("hunter\xd9\xa3" "12345", 6).has_value());  // non-ASCII digit
  EXPECT_FALSE(SplitOtpSuffix("hunter123456", 0).has_value());
}

TEST(TotpReplayCache, AcceptsEachCounterOnceAndNothingOlder) {
  TotpReplayCache cache(100);
  EXPECT_TRUE(cache.Consume("alice", 1000, 30000));
  EXPECT_FALSE(cache.Consume("alice", 1000, 30000));
  EXPECT_FALSE(cache.Consume("alice", 999, 30001));
  EXPECT_TRUE(cache.Consume("alice", 1001, 30031));
  EXPECT_FALSE(cache.Consume("alice", 1000, 30031));
  EXPECT_TRUE(cache.Consume("bob", 1000, 30031));  // users are independent
  EXPECT_EQ(cache.size(), 2u);
}

TEST(TotpReplayCache, ForgetsAfterTheWindow) {
  TotpReplayCache cache(100, TotpParams{30, 6, 1});  // window: 3 steps = 90 s
  EXPECT_TRUE(cache.Consume("alice", 1000, 30000));
  EXPECT_FALSE(cache.Consume("alice", 1000, 30089));
  EXPECT_TRUE(cache.Consume("alice", 1000, 30090));
}

TEST(TotpReplayCache, IsBoundedDroppingExpiredThenLeastRecent) {
  TotpReplayCache cache(3);
  EXPECT_TRUE(cache.Consume("u1", 1, 0));
  EXPECT_TRUE(cache.Consume("u2", 1, 0));
  EXPECT_TRUE(cache.Consume("u3", 1, 10));
  EXPECT_EQ(cache.size(), 3u);
  // At 95, u1 and u2 have expired (window 90 s): both go, u3 stays.
  EXPECT_TRUE(cache.Consume("u4", 1, 95));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(cache.Consume("u3", 1, 95));
  EXPECT_TRUE(cache.Consume("u5", 1, 96));
  EXPECT_EQ(cache.size(), 3u);
  // Full, nothing expired: the least recently touched goes (u3, recorded at 10; a refusal does
  // not touch an entry).
  EXPECT_TRUE(cache.Consume("u6", 1, 97));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.Consume("u3", 1, 97));   // evicted, so remembered no more
  EXPECT_FALSE(cache.Consume("u6", 1, 97));  // still remembered
}

TEST(TotpReplayCache, OnlyOneOfConcurrentUsesWins) {
  TotpReplayCache cache(100);
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (cache.Consume("alice", 42, 1000)) ++accepted;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 1);
}

}  // namespace
}  // namespace imapgate::auth
