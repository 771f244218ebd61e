#include "tls/crypto.h"

#include <openssl/digest.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>

namespace imapgate::tls {
namespace {

template <size_t N>
std::array<uint8_t, N> Hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  std::array<uint8_t, N> out{};
  unsigned int length = 0;
  // HMAC() only fails on allocation failure or a bad digest; neither is recoverable here.
  if (HMAC(md, key.data(), key.size(), reinterpret_cast<const uint8_t*>(data.data()), data.size(),
           out.data(), &length) == nullptr ||
      length != N) {
    std::abort();
  }
  return out;
}

}  // namespace

std::array<uint8_t, kSha1Bytes> HmacSha1(std::string_view key, std::string_view data) {
  return Hmac<kSha1Bytes>(EVP_sha1(), key, data);
}

std::array<uint8_t, kSha256Bytes> HmacSha256(std::string_view key, std::string_view data) {
  return Hmac<kSha256Bytes>(EVP_sha256(), key, data);
}

std::array<uint8_t, kSha256Bytes> Sha256(std::string_view data) {
  std::array<uint8_t, kSha256Bytes> out{};
  SHA256(reinterpret_cast<const uint8_t*>(data.data()), data.size(), out.data());
  return out;
}

void RandomBytes(std::span<uint8_t> out) {
  if (!out.empty()) RAND_bytes(out.data(), out.size());
}

}  // namespace imapgate::tls
