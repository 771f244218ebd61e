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

namespace imapgate::route {

// -ln(u) for u = (2 * (x >> 12) + 1) / 2^53, which is in (0, 1): always finite and positive.
double NegLogUnit(uint64_t x);

// The score of a shard with `seed` and `weight` (> 0) for a user whose name hashed to
// `user_hash`. Higher wins.
double RendezvousScore(uint64_t user_hash, uint64_t seed, double weight);

}  // namespace imapgate::route
