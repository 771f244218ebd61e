#include "config/routing.h"

namespace imapgate::config {

route::RouterSpec RouterSpecOf(const Config& config) {
  route::RouterSpec spec;
  for (const ShardConfig& shard : config.shards) spec.shards.push_back({shard.name, shard.weight});
  spec.overrides = config.routing.overrides;
  spec.domains = config.routing.domains;
  spec.default_domain = config.routing.default_domain;
  return spec;
}

StatusOr<std::shared_ptr<const route::Router>> BuildRouter(const Config& config) {
  return route::Router::Create(RouterSpecOf(config));
}

}  // namespace imapgate::config
