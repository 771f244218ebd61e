#include "abuse/abuse_services.h"

#include <algorithm>
#include <array>

#include "common/secret.h"
#include "ratelimit/redis_store.h"
#include "tls/crypto.h"

namespace imapgate::abuse {
namespace {

// A fixed-size key from the key file's text: SHA-256 of it (the file holds a long random token).
std::unique_ptr<ratelimit::Fingerprinter> MakeFingerprinter(const config::AbuseConfig& config) {
  if (!config.fingerprint_key) return std::make_unique<ratelimit::Fingerprinter>();
  std::array<uint8_t, 32> key = tls::Sha256(config.fingerprint_key->view());
  auto f = std::make_unique<ratelimit::Fingerprinter>(key);
  SecureWipe(key.data(), key.size());
  return f;
}

// A Store that forwards to the shared MemoryStore without owning it.
class SharedStoreHandle final : public ratelimit::Store {
 public:
  explicit SharedStoreHandle(ratelimit::Store* store) : store_(store) {}
  void Check(const ratelimit::LoginKeys& keys, std::function<void(ratelimit::PreLoginAnswer)> done) override {
    store_->Check(keys, std::move(done));
  }
  void RecordFailure(const ratelimit::LoginKeys& keys, const ratelimit::FailureEvent& event,
                     std::function<void(ratelimit::FailureAnswer)> done) override {
    store_->RecordFailure(keys, event, std::move(done));
  }
  void RecordSuccess(const ratelimit::LoginKeys& keys) override { store_->RecordSuccess(keys); }
  void Block(ratelimit::BlockScope scope, const std::string& key, ratelimit::BlockCause cause,
             std::chrono::milliseconds duration) override {
    store_->Block(scope, key, cause, duration);
  }
  void Unblock(ratelimit::BlockScope scope, const std::string& key, std::function<void(bool)> done) override {
    store_->Unblock(scope, key, std::move(done));
  }
  void ListBlocks(size_t limit, std::function<void(bool, std::vector<ratelimit::BlockEntry>)> done) override {
    store_->ListBlocks(limit, std::move(done));
  }
  void ReportAddress(const ratelimit::LoginKeys& keys, std::function<void(bool, ratelimit::KeyReport)> done) override {
    store_->ReportAddress(keys, std::move(done));
  }
  void ReportUser(const std::string& user, std::function<void(bool, ratelimit::KeyReport)> done) override {
    store_->ReportUser(user, std::move(done));
  }
  std::optional<ratelimit::BlockScope> BlockedNow(const std::string& address, const std::string& subnet) override {
    return store_->BlockedNow(address, subnet);
  }

 private:
  ratelimit::Store* store_;
};

}  // namespace

AbuseServices::AbuseServices(const config::AbuseConfig& config, const TimeSource* time)
    : fingerprints_(MakeFingerprinter(config)), connections_(config.connections), policy_(config.policy), time_(time) {
  if (config.store == config::AbuseConfig::StoreKind::kRedis) {
    redis_ = config.redis;
  } else {
    memory_ = std::make_unique<ratelimit::MemoryStore>(config.policy, config.memory, time);
  }
}

StatusOr<std::shared_ptr<AbuseServices>> AbuseServices::Create(const config::AbuseConfig& config,
                                                               const TimeSource* time, stats::Metrics* metrics) {
  (void)metrics;
  return std::shared_ptr<AbuseServices>(new AbuseServices(config, time));
}

StatusOr<ratelimit::StorePtr> AbuseServices::StoreFor(net::EventLoop* loop, FleetListener listener) {
  if (!redis_) return ratelimit::StorePtr(std::make_unique<SharedStoreHandle>(memory_.get()));
  ratelimit::RedisStoreOptions options;
  options.redis.host = redis_->host;
  options.redis.port = redis_->port;
  options.redis.password = redis_->password;
  options.redis.command_timeout = redis_->timeout;
  options.prefix = redis_->key_prefix;
  auto store = ratelimit::RedisStore::Create(loop, policy_, std::move(options), time_);
  if (!store.ok()) return Status(store.status().code(), "abuse.redis: " + store.status().message());
  if (listener) {
    (*store)->SetFleetHandler([listener = std::move(listener)](const ratelimit::FleetEvent& event) {
      if (event.kind == ratelimit::FleetEventKind::kKick) {
        listener(FleetNotice{FleetNotice::Kind::kKick, event.user, ""});
      } else if (event.kind == ratelimit::FleetEventKind::kMove) {
        listener(FleetNotice{FleetNotice::Kind::kMove, event.user, event.shard});
      }
    });
  }
  return ratelimit::StorePtr(std::move(*store));
}

bool AbuseServices::PublishToFleet(ratelimit::Store* store, const FleetNotice& notice) {
  auto* redis = dynamic_cast<ratelimit::RedisStore*>(store);
  if (redis == nullptr || redis->bus() == nullptr) return false;
  ratelimit::FleetEvent event;
  event.kind = notice.kind == FleetNotice::Kind::kKick ? ratelimit::FleetEventKind::kKick
                                                       : ratelimit::FleetEventKind::kMove;
  event.user = notice.user;
  event.shard = notice.shard;
  return redis->bus()->Publish(std::move(event));
}


}  // namespace imapgate::abuse
