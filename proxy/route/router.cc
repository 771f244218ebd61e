#include "route/router.h"

#include "route/hash.h"
#include "route/rendezvous.h"

namespace imapgate::route {

std::string_view SourceName(RouteSource source) {
  switch (source) {
    case RouteSource::kAuth:
      return "auth";
    case RouteSource::kOverride:
      return "override";
    case RouteSource::kDomain:
      return "domain";
    case RouteSource::kHash:
      return "hash";
  }
  return "hash";
}

std::string_view ErrorName(RouteError error) {
  switch (error) {
    case RouteError::kNone:
      return "none";
    case RouteError::kEmptyName:
      return "empty_name";
    case RouteError::kNameTooLong:
      return "name_too_long";
    case RouteError::kUnknownAuthShard:
      return "unknown_auth_shard";
  }
  return "none";
}

StatusOr<std::shared_ptr<const Router>> Router::Create(const RouterSpec& spec) {
  if (spec.shards.empty()) return InvalidArgument("router: at least one shard is required");
  std::shared_ptr<Router> router(new Router());
  router->default_domain_ = AsciiLower(spec.default_domain);
  for (const ShardSpec& shard : spec.shards) {
    if (shard.name.empty()) return InvalidArgument("router: a shard has an empty name");
    if (shard.weight == 0) {
      return InvalidArgument("router: shard '" + shard.name + "' has weight 0 (must be positive)");
    }
    const auto index = static_cast<uint32_t>(router->shards_.size());
    if (!router->by_name_.emplace(shard.name, index).second) {
      return InvalidArgument("router: duplicate shard name '" + shard.name + "'");
    }
    router->shards_.push_back({shard.name, shard.weight, StableHash(shard.name)});
    router->scoring_.push_back({router->shards_.back().seed, static_cast<double>(shard.weight)});
  }
  auto shard_index = [&](const std::string& what, const std::string& shard) -> StatusOr<uint32_t> {
    auto it = router->by_name_.find(shard);
    if (it == router->by_name_.end()) {
      return InvalidArgument("router: " + what + " names unknown shard '" + shard + "'");
    }
    return it->second;
  };
  for (const auto& [user, shard] : spec.overrides) {
    StatusOr<uint32_t> index = shard_index("override for '" + user + "'", shard);
    if (!index.ok()) return index.status();
    std::optional<std::string> name = NormalizedUser(user, router->default_domain_);
    if (!name) {
      return InvalidArgument("router: override user '" + user.substr(0, 64) +
                             "' is empty or longer than " + std::to_string(kMaxUserBytes) + " bytes");
    }
    auto [it, inserted] = router->overrides_.emplace(*name, *index);
    if (!inserted && it->second != *index) {
      return InvalidArgument("router: overrides for '" + *name + "' name two shards");
    }
  }
  for (const auto& [domain, shard] : spec.domains) {
    StatusOr<uint32_t> index = shard_index("domain rule '" + domain + "'", shard);
    if (!index.ok()) return index.status();
    auto [it, inserted] = router->domains_.emplace(AsciiLower(domain), *index);
    if (!inserted && it->second != *index) {
      return InvalidArgument("router: rules for domain '" + it->first + "' name two shards");
    }
  }
  return std::shared_ptr<const Router>(std::move(router));
}

std::optional<size_t> Router::FindShard(std::string_view name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

size_t Router::HashShard(std::string_view normalized) const {
  const uint64_t user_hash = StableHash(normalized);
  size_t best = 0;
  double best_score = -1;
  const size_t count = scoring_.size();
  const Scoring* scoring = scoring_.data();
  for (size_t i = 0; i < count; ++i) {
    const uint64_t pair = PairHash(user_hash, scoring[i].seed);
    if (PairScoreBelow(pair, scoring[i].weight, best_score)) continue;  // cannot win: skip the log
    const double score = PairScore(pair, scoring[i].weight);
    // Ties (vanishingly rare) go to the larger seed, so the answer never depends on the order
    // of the shards in the configuration.
    if (score > best_score || (score == best_score && scoring[i].seed > scoring[best].seed)) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

namespace {

RouteError FromNormalize(NormalizeResult result) {
  switch (result) {
    case NormalizeResult::kOk:
      return RouteError::kNone;
    case NormalizeResult::kEmpty:
      return RouteError::kEmptyName;
    case NormalizeResult::kTooLong:
      return RouteError::kNameTooLong;
  }
  return RouteError::kEmptyName;
}

}  // namespace

RouteDecision Router::RouteMoved(std::string_view shard) const {
  RouteDecision decision;
  auto it = by_name_.find(shard);
  if (it == by_name_.end()) {
    decision.error = RouteError::kUnknownAuthShard;
    return decision;
  }
  decision.source = RouteSource::kOverride;
  decision.shard = it->second;
  return decision;
}

RouteDecision Router::Route(std::string_view user, std::string_view auth_shard) const {
  RouteDecision decision;
  if (!auth_shard.empty()) {
    auto it = by_name_.find(auth_shard);
    if (it == by_name_.end()) {
      decision.error = RouteError::kUnknownAuthShard;
    } else {
      decision.source = RouteSource::kAuth;
      decision.shard = it->second;
    }
    return decision;
  }
  char buffer[kMaxUserBytes];
  std::string_view name;
  decision.error = FromNormalize(NormalizeUser(user, default_domain_, buffer, &name));
  if (!decision.ok()) return decision;
  if (auto it = overrides_.find(name); it != overrides_.end()) {
    decision.source = RouteSource::kOverride;
    decision.shard = it->second;
    return decision;
  }
  if (const std::string_view domain = DomainOf(name); !domain.empty()) {
    if (auto it = domains_.find(domain); it != domains_.end()) {
      decision.source = RouteSource::kDomain;
      decision.shard = it->second;
      return decision;
    }
  }
  decision.source = RouteSource::kHash;
  decision.shard = HashShard(name);
  return decision;
}

RouteDecision Router::HashRoute(std::string_view user) const {
  RouteDecision decision;
  char buffer[kMaxUserBytes];
  std::string_view name;
  decision.error = FromNormalize(NormalizeUser(user, default_domain_, buffer, &name));
  if (decision.ok()) decision.shard = HashShard(name);
  return decision;
}

}  // namespace imapgate::route
