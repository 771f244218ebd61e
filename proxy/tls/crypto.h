// Crypto primitives for the rest of the proxy: thin wrappers over BoringSSL (the only folder
// allowed to include it), so auth/ can hash, MAC and draw random bytes without a TLS dependency.
// All functions are pure apart from RandomBytes, allocate nothing on the heap and are safe to
// call from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace imapgate::tls {

inline constexpr size_t kSha1Bytes = 20;
inline constexpr size_t kSha256Bytes = 32;

// HmacSha1 computes HMAC-SHA-1(key, data) (RFC 2104); used by HOTP/TOTP (RFC 4226/6238).
std::array<uint8_t, kSha1Bytes> HmacSha1(std::string_view key, std::string_view data);

// HmacSha256 computes HMAC-SHA-256(key, data).
std::array<uint8_t, kSha256Bytes> HmacSha256(std::string_view key, std::string_view data);

// Sha256 computes the SHA-256 digest of `data`.
std::array<uint8_t, kSha256Bytes> Sha256(std::string_view data);

// RandomBytes fills `out` from the CSPRNG (BoringSSL's RAND_bytes, which aborts the process
// rather than return weak bytes).
void RandomBytes(std::span<uint8_t> out);

}  // namespace imapgate::tls
