#include "server/admin_abuse_store.h"

#include <condition_variable>
#include <mutex>

#include "ratelimit/redis_store.h"

namespace imapgate::server {
namespace {

// What a waiting caller and a (possibly late) answer share.
template <typename T>
struct Answer {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<T> value;
};

}  // namespace

StatusOr<std::unique_ptr<AdminAbuseStore>> AdminAbuseStore::Create(abuse::AbuseServices* services,
                                                                    std::chrono::milliseconds timeout) {
  std::unique_ptr<AdminAbuseStore> a(new AdminAbuseStore(services, timeout));
  if (!services->fleet()) {
    auto store = services->StoreFor(nullptr);
    if (!store.ok()) return store.status();
    a->store_ = std::move(*store);
    return a;
  }
  auto loop = net::EventLoop::Create();
  if (!loop.ok()) return loop.status();
  a->loop_ = std::move(*loop);
  auto store = services->StoreFor(a->loop_.get());
  if (!store.ok()) return store.status();
  a->store_ = std::move(*store);
  a->thread_ = std::thread([loop = a->loop_.get()] { loop->Run(); });
  return a;
}

AdminAbuseStore::~AdminAbuseStore() {
  if (!loop_) return;
  // The fleet store is destroyed on its own loop, then the loop stops.
  loop_->Post([this] {
    store_.reset();
    loop_->Stop();
  });
  if (thread_.joinable()) thread_.join();
  store_.reset();
  loop_.reset();
}

template <typename T, typename Call>
std::optional<T> AdminAbuseStore::Ask(Call call) {
  if (!loop_) {
    std::optional<T> out;
    call(*store_, [&out](T v) { out = std::move(v); });
    return out;
  }
  auto answer = std::make_shared<Answer<T>>();
  ratelimit::Store* store = store_.get();
  loop_->Post([store, call, answer] {
    call(*store, [answer](T v) {
      std::lock_guard<std::mutex> lock(answer->mu);
      answer->value = std::move(v);
      answer->cv.notify_all();
    });
  });
  std::unique_lock<std::mutex> lock(answer->mu);
  answer->cv.wait_for(lock, timeout_, [&] { return answer->value.has_value(); });
  return std::move(answer->value);
}

std::optional<std::vector<ratelimit::BlockEntry>> AdminAbuseStore::ListBlocks(size_t limit) {
  using Result = std::pair<bool, std::vector<ratelimit::BlockEntry>>;
  auto r = Ask<Result>([limit](ratelimit::Store& s, std::function<void(Result)> done) {
    s.ListBlocks(limit, [done](bool ok, std::vector<ratelimit::BlockEntry> b) { done({ok, std::move(b)}); });
  });
  if (!r || !r->first) return std::nullopt;
  return std::move(r->second);
}

std::optional<bool> AdminAbuseStore::Unblock(ratelimit::BlockScope scope, const std::string& key) {
  return Ask<bool>([scope, key](ratelimit::Store& s, std::function<void(bool)> done) {
    s.Unblock(scope, key, std::move(done));
  });
}

std::optional<ratelimit::KeyReport> AdminAbuseStore::ReportAddress(const ratelimit::LoginKeys& keys) {
  using Result = std::pair<bool, ratelimit::KeyReport>;
  auto r = Ask<Result>([keys](ratelimit::Store& s, std::function<void(Result)> done) {
    s.ReportAddress(keys, [done](bool ok, ratelimit::KeyReport k) { done({ok, std::move(k)}); });
  });
  if (!r || !r->first) return std::nullopt;
  return std::move(r->second);
}

std::optional<ratelimit::KeyReport> AdminAbuseStore::ReportUser(const std::string& user) {
  using Result = std::pair<bool, ratelimit::KeyReport>;
  auto r = Ask<Result>([user](ratelimit::Store& s, std::function<void(Result)> done) {
    s.ReportUser(user, [done](bool ok, ratelimit::KeyReport k) { done({ok, std::move(k)}); });
  });
  if (!r || !r->first) return std::nullopt;
  return std::move(r->second);
}

bool AdminAbuseStore::PublishToFleet(const abuse::FleetNotice& notice) {
  if (!loop_) return false;
  auto r = Ask<bool>([notice](ratelimit::Store& s, std::function<void(bool)> done) {
    done(abuse::AbuseServices::PublishToFleet(&s, notice));
  });
  return r.value_or(false);
}

std::optional<std::pair<size_t, size_t>> AdminAbuseStore::BlockedCounts() {
  using Result = std::pair<size_t, size_t>;
  if (!loop_) {
    ratelimit::MemoryStore* memory = services_->memory_store();
    if (memory == nullptr) return std::nullopt;
    return Result{memory->block_count(ratelimit::BlockScope::kAddress), memory->block_count(ratelimit::BlockScope::kSubnet)};
  }
  return Ask<Result>([](ratelimit::Store& s, std::function<void(Result)> done) {
    auto* redis = dynamic_cast<ratelimit::RedisStore*>(&s);
    if (redis == nullptr) return done({0, 0});
    done({redis->mirror_count(ratelimit::BlockScope::kAddress), redis->mirror_count(ratelimit::BlockScope::kSubnet)});
  });
}

}  // namespace imapgate::server
