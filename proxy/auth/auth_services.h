// The auth stage's shared state and its per-generation plan.
//
// AuthServices: what lives as long as the process and is shared by every worker and every
// configuration generation (owned by the Server through a shared_ptr): the hash pool, the keyed
// hasher, the auth cache, the TOTP replay cache, remembered devices, and one UsersStore per users
// file (so that a file reloaded on change is seen by every generation naming it). Every member is
// thread-safe.
//
// GenerationAuth: a configuration generation's auth plan, immutable once built: the sources (a
// file source's store, an http source's URL), each listener's chain, the push hook, the master
// users. Built by server/generation.cc; read by every worker's WorkerAuth (auth_step.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <string>
#include <vector>

#include "auth/expiring_cache.h"
#include "auth/hash_pool.h"
#include "auth/totp.h"
#include "auth/user_database.h"
#include "config/config.h"
#include "httpc/url.h"

namespace imapgate::auth {

// One users file's current content. Get() and Set() may be called from any thread.
class UsersStore {
 public:
  struct Snapshot {
    std::shared_ptr<const UserDatabase> db;
    uint64_t version = 0;  // +1 per Set: part of the auth cache's key, so a changed file is rechecked
  };
  explicit UsersStore(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  // The router's default domain the file's bare names are read with (set with each Set()).
  std::string default_domain() const;
  Snapshot Get() const;
  void Set(std::shared_ptr<const UserDatabase> db, std::string default_domain);

 private:
  std::string path_;
  mutable std::mutex mu_;
  Snapshot current_;
  std::string default_domain_;
};

// An auth-cache entry: a primary check that passed (never a second factor: an OTP or a push
// approval is never made reusable by the cache).
struct CachedCheck {
  bool app_password = false;
  std::string app_password_name;
};

struct AuthServicesOptions {
  HashPoolOptions pool;
  std::chrono::milliseconds cache_ttl{300000};  // 0: off
  size_t cache_max_entries = 100000;
  size_t remembered_max_entries = 100000;
  size_t replay_max_users = 100000;
};

class AuthServices {
 public:
  static StatusOr<std::shared_ptr<AuthServices>> Create(const AuthServicesOptions& options);
  ~AuthServices();

  // Starts the hash pool's threads (after the process dropped its privileges). Until then, and
  // after Shutdown(), Submit refuses.
  Status StartPool();
  // Queues a hash check (any thread); false when the pool is full or not running.
  bool Submit(std::function<void()> job);
  // Checks waiting for a thread (0 when not running).
  size_t queued() const;
  const KeyedHasher& hasher() const { return hasher_; }
  ExpiringCache<CachedCheck>* cache() { return cache_.get(); }  // null: off
  ExpiringCache<uint8_t>& remembered() { return *remembered_; }
  TotpReplayCache& replay() { return *replay_; }
  std::chrono::milliseconds cache_ttl() const { return options_.cache_ttl; }
  // The store of users file `path`, created empty the first time (any thread).
  std::shared_ptr<UsersStore> Store(const std::string& path);
  // Every store, for the change watcher.
  std::vector<std::shared_ptr<UsersStore>> Stores() const;
  // App passwords revoked through the admin API (user, name, the stored hash): refused until a
  // restart, or until the users file gives that name a new hash. Any thread.
  void RevokeAppPassword(std::string user, std::string name, std::string hash);
  bool IsAppPasswordRevoked(std::string_view user, std::string_view name, std::string_view hash) const;

  // Stops the hash pool (drops queued checks, joins the threads): before the worker loops that
  // its jobs post to are destroyed.
  void Shutdown();

 private:
  explicit AuthServices(const AuthServicesOptions& options);
  AuthServicesOptions options_;
  mutable std::mutex pool_mu_;  // pool_ itself (start and shutdown); the pool is thread-safe
  HashPoolPtr pool_;
  bool shut_down_ = false;
  KeyedHasher hasher_;
  std::unique_ptr<ExpiringCache<CachedCheck>> cache_;
  std::unique_ptr<ExpiringCache<uint8_t>> remembered_;
  std::unique_ptr<TotpReplayCache> replay_;
  mutable std::mutex revoked_mu_;
  std::set<std::tuple<std::string, std::string, std::string>> revoked_;
  mutable std::mutex stores_mu_;
  std::map<std::string, std::shared_ptr<UsersStore>> stores_;
};

// One source of a generation's chain.
struct SourcePlan {
  config::AuthSourceConfig config;
  std::shared_ptr<UsersStore> users;  // kFile
  std::optional<httpc::Url> url;      // kHttp
  int metrics_index = -1;             // stats::Metrics::AuthSourceIndex
};

struct GenerationAuth {
  std::shared_ptr<AuthServices> services;
  std::vector<SourcePlan> sources;
  std::vector<std::vector<size_t>> listener_chains;  // per listener (config order): source indices
  std::optional<httpc::Url> push_url;
  config::PushHookConfig push;
  std::chrono::milliseconds timeout{10000};
  int64_t remember_seconds = 0;
  std::vector<std::string> master_users;  // normalized
  std::string default_domain;              // the router's, to normalize user names the same way

  // True when listener `index` only passes through to the backend (no auth step runs).
  bool PassThroughOnly(size_t listener) const;
};

}  // namespace imapgate::auth
