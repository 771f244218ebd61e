// The top-level `abuse:` section (issue C): brute-force windows, tarpits, blocks, connection
// limits, trusted networks and blocklists, the store (this process or Redis for a fleet) and the
// optional Dovecot auth_policy hook. Values only; read by config/abuse_section.cc, turned into
// the running defence by abuse/.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/secret.h"
#include "config/cidr.h"
#include "config/source_location.h"
#include "ratelimit/connection_limits.h"
#include "ratelimit/memory_store.h"
#include "ratelimit/policy.h"

namespace imapgate::config {

// `abuse.redis`: the fleet's shared store.
struct AbuseRedisConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string key_prefix = "imapgate:";           // every key and the events channel
  std::shared_ptr<const SecretString> password;   // password_file (AUTH); null: none
  std::chrono::milliseconds timeout{200};         // each command
};

// `abuse.policy_hook`: a Dovecot auth_policy server (weakforced): asked before a login's check
// (command=allow), told the result after (command=report).
struct PolicyHookConfig {
  std::string url;  // "" = no hook
  std::shared_ptr<const SecretString> nonce;  // nonce_file: the pwhash nonce (as Dovecot's auth_policy_hash_nonce)
  int hash_truncate = 12;                     // bits of the pwhash kept (0: no pwhash)
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds max_delay{30000};  // a positive status is a delay, capped here
  bool reject_on_fail = false;                 // a failed hook refuses (fail closed); default: open
  std::string ca_file;
  bool verify = true;
};

struct AbuseConfig {
  bool enabled = true;
  enum class StoreKind { kMemory, kRedis } store = StoreKind::kMemory;
  ratelimit::Policy policy;
  ratelimit::MemoryStoreOptions memory;           // max_keys
  ratelimit::ConnectionLimitsConfig connections;
  bool fail_closed = false;                       // on_store_failure: open (default) | closed
  // Peers that forward the real client (webmail, a load balancer) and are never limited
  // themselves; from them, an ID "x-originating-ip" names the address that is counted.
  std::vector<CidrRange> trusted_networks;
  std::vector<CidrRange> blocklist;               // refused at connect (* BYE) and at login
  // key_file: the fingerprint key (a secret shared by a fleet so every instance counts the same
  // password as the same); null: a random key per process (store: memory only).
  std::shared_ptr<const SecretString> fingerprint_key;
  AbuseRedisConfig redis;
  PolicyHookConfig policy_hook;
  SourceLocation location;  // of `abuse:`; the file when absent
};

}  // namespace imapgate::config
