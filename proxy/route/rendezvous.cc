#include "route/rendezvous.h"

#include <cstring>

#include "route/hash.h"

namespace imapgate::route {
namespace {

constexpr double kLn2 = 0.6931471805599453094172321;
constexpr double kSqrtHalf = 0.7071067811865475244008444;

// 2^e for -1022 <= e <= 1023, built from its bits: exact.
double PowerOfTwo(int e) {
  const uint64_t bits = static_cast<uint64_t>(1023 + e) << 52;
  double out;
  std::memcpy(&out, &bits, sizeof(out));
  return out;
}

}  // namespace

double NegLogUnit(uint64_t x) {
  // u = m * 2^-53 with m odd and below 2^53: exact in a double. Split u = f * 2^exponent with
  // f in [0.5, 1) from m's bit length (what frexp does, without the library call); exact.
  const uint64_t m = 2 * (x >> 12) + 1;
  const int bits = 64 - __builtin_clzll(m);
  int exponent = bits - 53;
  double f = static_cast<double>(static_cast<int64_t>(m)) * PowerOfTwo(-bits);
  if (f < kSqrtHalf) {
    f *= 2;  // exact
    --exponent;
  }
  // ln(f) for f in [sqrt(1/2), sqrt(2)): with s = (f - 1) / (f + 1), ln(f) = 2 atanh(s)
  // = 2 (s + s^3/3 + s^5/5 + ...); |s| < 0.172, so nine terms leave an error below 1e-15.
  const double s = (f - 1) / (f + 1);
  const double z = s * s;
  double series = 1.0 / 17;
  series = series * z + 1.0 / 15;
  series = series * z + 1.0 / 13;
  series = series * z + 1.0 / 11;
  series = series * z + 1.0 / 9;
  series = series * z + 1.0 / 7;
  series = series * z + 1.0 / 5;
  series = series * z + 1.0 / 3;
  series = series * z + 1.0;
  const double ln_f = 2 * s * series;
  return -(static_cast<double>(exponent) * kLn2 + ln_f);
}

double PairScore(uint64_t pair_hash, double weight) { return weight / NegLogUnit(pair_hash); }

double RendezvousScore(uint64_t user_hash, uint64_t seed, double weight) {
  return PairScore(PairHash(user_hash, seed), weight);
}

}  // namespace imapgate::route
