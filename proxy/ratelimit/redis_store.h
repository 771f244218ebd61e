// RedisStore: the fleet Store (`abuse.store: redis`): one abuse state in Redis shared by every
// imapgate instance, over one RedisClient and a FleetBus on one worker loop.
//
// Windows: one Lua script per RecordFailure updates every window of the login atomically, with
// Redis's clock (`TIME`), with the semantics of window.h: slots of length/buckets, the sum over
// the last `buckets` slots, the last kRecentFingerprints counted fingerprints per key not counted
// again while inside the window, 65535 per slot at most, and each key expiring when its newest
// slot leaves the window. Check reads the counts, the address/subnet blocks and the remembered
// (user, address) in one script. Scripts are loaded with SCRIPT LOAD on connect and run with
// EVALSHA, falling back to EVAL on NOSCRIPT.
//
// Keys (P = the prefix, default "imapgate:"; H(x) = the first 16 bytes of SHA-256(x) in hex, so
// no input can reach another kind's key and an admin can find a key from its text):
//   P w:a:H(address)  P w:s:H(subnet)  P w:u:H(user)  P w:ua:H(user "\n" address)  P w:g
//   P w:ut:H(address)  — window hashes: field <slot> = count, field "r" = recent "fp:slot,..."
//   P b:a:H(address)  P b:s:H(subnet) — blocks: value "<scope> <cause> <escaped key>", PX
//   P blocks — sorted set of block key names scored by expiry (ms, Redis clock), for ListBlocks
//   P r:H(user "\n" address) — remembered success, PX remember_for
//   channel P events — the FleetBus
// One Redis server (not Cluster): scripts touch keys of several slots.
//
// Blocks: Block() sets the key and the index in one script, blocks in the local mirror at once
// and publishes a block event; other instances' mirrors learn it from the bus, so BlockedNow()
// needs no round trip. The mirror (at most max_mirror_blocks; when full the block expiring first
// goes) expires entries by the injected TimeSource and is reloaded from Redis after each
// (re)connect of either connection. Failure: any error or timeout answers ok = false (the caller
// applies fail-open or fail-closed and counts it); nothing is queued while Redis is down.
//
// Thread: one loop; every call and callback on its thread. The store never calls a callback
// after its destruction; do not destroy it from inside one of its callbacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/time_source.h"
#include "net/event_loop.h"
#include "ratelimit/fleet_bus.h"
#include "ratelimit/redis_client.h"
#include "ratelimit/store.h"

namespace imapgate::ratelimit {

struct RedisStoreOptions {
  RedisClientOptions redis;                 // both connections (commands and the bus)
  std::string prefix = "imapgate:";         // 1..64 bytes, 0x21..0x7e
  std::string instance_id;                  // empty: 16 random hex digits
  size_t max_mirror_blocks = 100'000;       // the local copy of the fleet's blocks
  size_t max_indexed_blocks = 100'000;      // entries of P blocks (older ones leave the index first)
  size_t max_list_limit = 10'000;           // ListBlocks' limit is cut to this
};

class RedisStore final : public Store {
 public:
  // `policy` gives the window shape and remember_for (fixed for the store's life); `time`
  // outlives the store (the mirror's expiry). Starts connecting; answers ok = false until then.
  static StatusOr<std::unique_ptr<RedisStore>> Create(net::EventLoop* loop, const Policy& policy,
                                                      RedisStoreOptions options, const TimeSource* time);
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

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

  // Per Redis command: its latency and whether it succeeded (store latency and error metrics).
  void SetLatencyHook(std::function<void(double seconds, bool ok)> hook);
  // Every event received from other instances, after the mirror applied blocks and unblocks
  // (kick and move are for the session layer).
  void SetFleetHandler(FleetBus::Handler handler) { fleet_handler_ = std::move(handler); }
  // The bus, to publish kicks and moves.
  FleetBus* bus() { return bus_.get(); }

  bool connected() const { return client_->connected(); }
  size_t in_flight() const { return client_->in_flight(); }
  uint64_t connects() const { return client_->connects(); }
  size_t mirror_size() const { return mirror_.size(); }
  // Blocks of `scope` in the local mirror (expired ones not yet dropped included).
  size_t mirror_count(BlockScope scope) const;

  // The key names (exposed for tests and the docs).
  std::string WindowKey(std::string_view kind, std::string_view text) const;
  std::string BlockKey(BlockScope scope, std::string_view key) const;
  std::string RememberKey(std::string_view user, std::string_view address) const;

 private:
  enum Script : int { kRecord, kCheck, kReport, kBlock, kUnblock, kList, kScriptCount };
  using MirrorKey = std::pair<BlockScope, std::string>;
  struct MirrorEntry {
    std::chrono::steady_clock::time_point expiry;
    uint64_t generation;  // reload_generation_ when mirrored
  };

  RedisStore(net::EventLoop* loop, const Policy& policy, RedisStoreOptions options, const TimeSource* time);
  void LoadScripts();
  void RunScript(Script script, std::vector<std::string> keys, std::vector<std::string> args,
                 RedisClient::Callback done);
  void ReloadMirror();
  void MirrorBlock(BlockScope scope, const std::string& key, std::chrono::milliseconds remaining);
  void OnFleetEvent(const FleetEvent& event);
  void Report(std::vector<std::string> keys, int windows, std::string text,
              std::function<void(bool, KeyReport)> done);

  const TimeSource* time_;
  int64_t bucket_ms_;
  int buckets_;
  std::chrono::milliseconds remember_for_;
  RedisStoreOptions options_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<FleetBus> bus_;
  std::string shas_[kScriptCount];
  std::map<MirrorKey, MirrorEntry> mirror_;
  FleetBus::Handler fleet_handler_;
  uint64_t reload_generation_ = 0;
};

}  // namespace imapgate::ratelimit
