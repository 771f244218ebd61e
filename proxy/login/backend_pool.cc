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
  pool.shards.push_back(PoolShard{"default", {0}, {0}});
  return pool;
}

}  // namespace imapgate::login
