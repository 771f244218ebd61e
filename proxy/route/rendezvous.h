// Weighted rendezvous (highest random weight) hashing, the arithmetic only.
//
// Each (user, shard) pair gets a pseudo-random u in (0, 1) from the user's hash and the shard's
// seed (the hash of its name, not its position); the shard's score is -weight / ln(u) and the
// highest score wins (Schindelhauer and Schomaker's weighted HRW). A shard's score for a user
// never depends on the other shards, so adding a shard moves only the users it now wins, and
// removing one moves only its own users; shard i gets weight_i / sum(weights) of the users.
//
// ln is computed here from IEEE basic operations only (no libm, no fused multiply-add), so the
// scores, and the winner, are bit-identical in every process on every platform. Pure.
#pragma once

#include <cstdint>

#include "route/hash.h"

namespace imapgate::route {

// -ln(u) for u = (2 * (x >> 12) + 1) / 2^53, which is in (0, 1): always finite and positive.
double NegLogUnit(uint64_t x);

// The pseudo-random draw of one (user, shard) pair.
inline uint64_t PairHash(uint64_t user_hash, uint64_t seed);

// The score of a pair draw for a shard of `weight` (> 0): weight / -ln(u). Higher wins.
double PairScore(uint64_t pair_hash, double weight);

// A cheap test (no logarithm) that, when true, guarantees PairScore(pair_hash, weight) < bound:
// since -ln(u) >= 1 - u, the score is at most weight / (1 - u), and a margin of 1e-12 covers
// every rounding. Most shards of a large map fail to beat the best score so far this way, so a
// decision computes only a few logarithms; the winner is the same as with every score computed.
// Inline: it runs once per shard per decision.
inline bool PairScoreBelow(uint64_t pair_hash, double weight, double bound) {
  // 1 - u = (2^53 - m) * 2^-53 with m = 2 * (pair_hash >> 12) + 1, exact.
  const auto m = static_cast<int64_t>(2 * (pair_hash >> 12) + 1);
  const double one_minus_u = static_cast<double>((int64_t{1} << 53) - m) * 0x1p-53;
  return weight * (1 + 1e-12) < bound * one_minus_u;
}

// The score of a shard with `seed` and `weight` for a user whose name hashed to `user_hash`.
double RendezvousScore(uint64_t user_hash, uint64_t seed, double weight);

inline uint64_t PairHash(uint64_t user_hash, uint64_t seed) { return Mix64(user_hash ^ seed); }

}  // namespace imapgate::route
