#include "auth/auth_services.h"

namespace imapgate::auth {

UsersStore::Snapshot UsersStore::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::string UsersStore::default_domain() const {
  std::lock_guard<std::mutex> lock(mu_);
  return default_domain_;
}

void UsersStore::Set(std::shared_ptr<const UserDatabase> db, std::string default_domain) {
  std::shared_ptr<const UserDatabase> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    default_domain_ = std::move(default_domain);
    old = std::move(current_.db);
    current_.db = std::move(db);
    ++current_.version;
  }
  // `old` (and the secrets it holds) is released here, off the lock, unless a login still uses it.
}

AuthServices::AuthServices(const AuthServicesOptions& options)
    : options_(options) {}

AuthServices::~AuthServices() { Shutdown(); }

StatusOr<std::shared_ptr<AuthServices>> AuthServices::Create(const AuthServicesOptions& options) {
  if (options.pool.threads < 1 || options.pool.max_queued < 1) return InvalidArgument("hash pool: no threads or no queue");
  std::shared_ptr<AuthServices> s(new AuthServices(options));
  if (options.cache_ttl.count() > 0 && options.cache_max_entries > 0) {
    s->cache_ = std::make_unique<ExpiringCache<CachedCheck>>(options.cache_max_entries);
  }
  s->remembered_ = std::make_unique<ExpiringCache<uint8_t>>(options.remembered_max_entries);
  s->replay_ = std::make_unique<TotpReplayCache>(options.replay_max_users, TotpParams{});
  return s;
}

std::shared_ptr<UsersStore> AuthServices::Store(const std::string& path) {
  std::lock_guard<std::mutex> lock(stores_mu_);
  std::shared_ptr<UsersStore>& s = stores_[path];
  if (!s) s = std::make_shared<UsersStore>(path);
  return s;
}

std::vector<std::shared_ptr<UsersStore>> AuthServices::Stores() const {
  std::lock_guard<std::mutex> lock(stores_mu_);
  std::vector<std::shared_ptr<UsersStore>> out;
  for (const auto& [path, store] : stores_) out.push_back(store);
  return out;
}

Status AuthServices::StartPool() {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (pool_ || shut_down_) return Status::Ok();
  auto pool = HashPool::Create(options_.pool);
  if (!pool.ok()) return pool.status();
  pool_ = std::move(*pool);
  return Status::Ok();
}

bool AuthServices::Submit(std::function<void()> job) {
  HashPool* pool = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool = pool_.get();
  }
  return pool != nullptr && pool->TrySubmit(std::move(job));
}

size_t AuthServices::queued() const {
  std::lock_guard<std::mutex> lock(pool_mu_);
  return pool_ ? pool_->queued() : 0;
}

void AuthServices::RevokeAppPassword(std::string user, std::string name, std::string hash) {
  std::lock_guard<std::mutex> lock(revoked_mu_);
  revoked_.emplace(std::move(user), std::move(name), std::move(hash));
}

bool AuthServices::IsAppPasswordRevoked(std::string_view user, std::string_view name, std::string_view hash) const {
  std::lock_guard<std::mutex> lock(revoked_mu_);
  return revoked_.count({std::string(user), std::string(name), std::string(hash)}) > 0;
}

void AuthServices::Shutdown() {
  std::lock_guard<std::mutex> lock(pool_mu_);
  shut_down_ = true;
  if (pool_) pool_->Shutdown();  // the pool object stays (a Submit racing this sees it stopped)
}

bool GenerationAuth::PassThroughOnly(size_t listener) const {
  if (listener >= listener_chains.size()) return true;
  const std::vector<size_t>& chain = listener_chains[listener];
  return chain.size() == 1 && sources[chain[0]].config.type == config::AuthSourceConfig::Type::kBackend;
}

}  // namespace imapgate::auth
