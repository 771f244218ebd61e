// The bridge from a loaded Config to the router: the shard list, overrides, domain rules and
// default domain of `config`, as a route::RouterSpec and as a built Router.
#pragma once

#include <memory>

#include "common/status.h"
#include "config/config.h"
#include "route/router.h"

namespace imapgate::config {

// The router's view of `config`: shard names and weights in config order (so a decision's
// shard index is an index into config.shards), overrides, domain rules, default domain.
route::RouterSpec RouterSpecOf(const Config& config);

// Router::Create(RouterSpecOf(config)). A Config that loaded always builds one.
StatusOr<std::shared_ptr<const route::Router>> BuildRouter(const Config& config);

}  // namespace imapgate::config
