// MemoryStore: the in-process Store (the default, `abuse.store: memory`), shared by every worker.
//
// Windows are kept per key (kind + text, hashed with a process-random SipHash key, so neither an
// address nor a user name is kept in clear and an attacker cannot aim keys at one shard) in
// `shards` independently locked shards, each an LRU bounded to max_keys / shards entries: when a
// shard is full its least recently used key goes (an expired one first), so an attacker rotating
// addresses or user names cannot grow memory past the bound — at worst it pushes out old keys.
// Blocks (at most max_blocks, texts kept for the admin API) and remembered (user, address) pairs
// (at most max_remembered, hashed) are bounded the same way. Answers inside each call.
// Thread-safe; time from the injected TimeSource (its monotonic clock).
#pragma once

#include <cstddef>
#include <memory>

#include "common/time_source.h"
#include "ratelimit/store.h"

namespace imapgate::ratelimit {

struct MemoryStoreOptions {
  size_t max_keys = 1'000'000;       // abuse.max_keys: windows (all kinds together)
  size_t max_blocks = 100'000;       // blocks in force
  size_t max_remembered = 1'000'000; // remembered (user, address) successes
  size_t shards = 64;                // lock stripes (rounded to a power of two)
};

class MemoryStore final : public Store {
 public:
  // `policy` gives the window shape and remember_for (fixed for the store's life); `time`
  // outlives the store.
  MemoryStore(const Policy& policy, const MemoryStoreOptions& options, const TimeSource* time);
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  void Check(const LoginKeys& keys, std::function<void(PreLoginAnswer)> done) override;
  void RecordFailure(const LoginKeys& keys, const FailureEvent& event,
                     std::function<void(FailureAnswer)> done) override;
  void RecordSuccess(const LoginKeys& keys) override;
  void Block(BlockScope scope, const std::string& key, BlockCause cause,
             std::chrono::milliseconds duration) override;
  void Unblock(BlockScope scope, const std::string& key, std::function<void(bool)> done) override;
  void ListBlocks(size_t limit, std::function<void(bool, std::vector<BlockEntry>)> done) override;
  void ReportAddress(const LoginKeys& keys, std::function<void(bool, KeyReport)> done) override;
  void ReportUser(const std::string& user, std::function<void(bool, KeyReport)> done) override;
  std::optional<BlockScope> BlockedNow(const std::string& address, const std::string& subnet) override;

  // Windows held now (every kind), and blocks in force: for metrics and tests.
  size_t key_count() const;
  size_t block_count() const;
  // Blocks of one scope in force.
  size_t block_count(BlockScope scope) const;
  // The bytes this store has allocated for its entries and indexes (an upper estimate from the
  // containers' sizes and capacities; the bench checks it against the process's RSS).
  size_t MemoryBytes() const;
  // The most MemoryBytes() can reach with `options` (every window, remembered pair and block
  // slot in use, block keys at their longest): the store's configured memory bound. A window
  // costs about 89 bytes with its share of the index (an 80-byte entry, at most 8 bytes of index).
  static size_t MemoryBound(const MemoryStoreOptions& options);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imapgate::ratelimit
