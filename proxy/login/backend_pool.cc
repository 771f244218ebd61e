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

}  // namespace imapgate::login
