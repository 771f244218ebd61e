// Hex helpers for the auth unit tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace imapgate::auth::testing {

inline std::string Hex(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace imapgate::auth::testing
