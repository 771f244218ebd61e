// Stable 64-bit hashing for the router: the same bytes give the same value in every process, on
// every machine and after every restart (no std::hash, no random seed). Pure, allocation-free.
#pragma once

#include <cstdint>
#include <string_view>

namespace imapgate::route {

// SipHash-2-4 (Aumasson and Bernstein) of `data` under the 128-bit key (k0, k1), as in the
// reference implementation (k0/k1 are the key's two little-endian 64-bit halves).
uint64_t SipHash24(std::string_view data, uint64_t k0, uint64_t k1);

// SipHash-2-4 under the router's fixed key. Changing the key moves every user: never do it.
uint64_t StableHash(std::string_view data);

// A bijective 64-bit finalizer (SplitMix64's): every input bit affects every output bit.
constexpr uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace imapgate::route
