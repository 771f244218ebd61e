// Unit tests for tls/crypto.h (the BoringSSL wrappers auth/ uses), against published vectors.
#include "tls/crypto.h"

#include <gtest/gtest.h>

#include <array>

#include "test_hex.h"

namespace imapgate::tls {
namespace {

using auth::testing::Hex;

TEST(Crypto, HmacSha1MatchesRfc2202) {
  EXPECT_EQ(Hex(HmacSha1("Jefe", "what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
}

TEST(Crypto, HmacSha256MatchesRfc4231) {
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, Sha256MatchesFips180) {
  EXPECT_EQ(Hex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Hex(Sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, RandomBytesFillsTheBufferDifferentlyEachTime) {
  std::array<uint8_t, 32> a{}, b{};
  RandomBytes(a);
  RandomBytes(b);
  EXPECT_NE(a, b);
  EXPECT_NE(a, (std::array<uint8_t, 32>{}));
  RandomBytes({});  // an empty span is fine
}

}  // namespace
}  // namespace imapgate::tls
