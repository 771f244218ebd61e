#include "login/backend_pool.h"

namespace imapgate::login {

StatusOr<BackendPool> SingleBackendPool(std::string name, upstream::BackendTarget target) {
  route::RouterSpec spec;
  spec.shards.push_back(route::ShardSpec{"default", 1});
  auto router = route::Router::Create(spec);
  if (!router.ok()) return router.status();
  BackendPool pool;
  pool.router = *router;
  PoolBackend backend;
  backend.name = std::move(name);
  backend.target = std::move(target);
  pool.backends.push_back(std::move(backend));
  PoolShard shard;
  shard.name = "default";
  shard.backends = {0};
  shard.health_order = {0};
  pool.shards.push_back(std::move(shard));
  return pool;
}

std::vector<stats::Metrics::ShardBackendCount> ShardBackendCounts(const BackendPool& pool) {
  std::vector<stats::Metrics::ShardBackendCount> counts;
  counts.reserve(pool.shards.size());
  for (const PoolShard& shard : pool.shards) {
    if (shard.metrics_index < 0) continue;
    stats::Metrics::ShardBackendCount c;
    c.shard = shard.metrics_index;
    c.configured = static_cast<int64_t>(shard.backends.size());
    for (size_t h : shard.health_order) {
      if (!pool.health || pool.health->IsUsable(h)) ++c.up;
    }
    counts.push_back(c);
  }
  return counts;
}

}  // namespace imapgate::login
