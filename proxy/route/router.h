// Router: the pure user -> shard decision (no I/O, no locks, no allocation on Route()).
//
// Built once per configuration from the shard list (names and weights), the per-user overrides,
// the per-domain rules and the default domain, then shared read-only between threads (a reload
// builds a new one). Route() decides, in this order:
//   1. auth:     a shard named by the auth step (e.g. an auth service's answer), when given;
//   2. override: the normalized user name is in the override map;
//   3. domain:   the name's domain has a rule;
//   4. hash:     weighted rendezvous hashing of the normalized name (see rendezvous.h).
// The decision names the shard by its index in shards() and records which of the four decided.
// Which backend of the shard to use (failover order, health) is the caller's business.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "route/normalize.h"

namespace imapgate::route {

// Why a shard was chosen. Stable strings (SourceName) for logs and metric labels.
enum class RouteSource { kAuth, kOverride, kDomain, kHash };
std::string_view SourceName(RouteSource source);

// Why no shard was chosen.
enum class RouteError {
  kNone,
  kEmptyName,         // the user name is empty
  kNameTooLong,       // longer than kMaxUserBytes once normalized
  kUnknownAuthShard,  // the auth step named a shard this router does not have
};
std::string_view ErrorName(RouteError error);

struct RouteDecision {
  RouteError error = RouteError::kNone;
  RouteSource source = RouteSource::kHash;
  size_t shard = 0;  // index into Router::shards(); meaningful only when ok()
  bool ok() const { return error == RouteError::kNone; }
};

// One shard as the router sees it.
struct ShardSpec {
  std::string name;
  uint32_t weight = 1;  // > 0
};

// Everything a Router is built from. Names in `overrides` are normalized by Create (lowercased,
// default domain appended); domain keys are lowercased.
struct RouterSpec {
  std::vector<ShardSpec> shards;
  std::unordered_map<std::string, std::string> overrides;  // user -> shard name
  std::map<std::string, std::string> domains;              // domain -> shard name
  std::string default_domain;                              // "" = bare names stay bare
};

class Router {
 public:
  // Validates the spec: at least one shard, unique non-empty shard names, positive weights,
  // every override and domain rule naming a known shard, override names that normalize (and do
  // not collide on different shards). Errors name the offending entry.
  static StatusOr<std::shared_ptr<const Router>> Create(const RouterSpec& spec);

  // The decision for `user`; `auth_shard` is the auth step's route ("" = none). Never allocates.
  RouteDecision Route(std::string_view user, std::string_view auth_shard = {}) const;
  // The decision for a user an operator moved to `shard` at runtime (source kOverride);
  // kUnknownAuthShard when no such shard is configured.
  RouteDecision RouteMoved(std::string_view shard) const;

  // The hash decision alone (no auth, override or domain), e.g. to show what an override hides.
  RouteDecision HashRoute(std::string_view user) const;

  struct Shard {
    std::string name;
    uint32_t weight;
    uint64_t seed;  // StableHash(name): the shard's identity in the rendezvous scores
  };
  const std::vector<Shard>& shards() const { return shards_; }
  // The index of the shard named `name`, if any.
  std::optional<size_t> FindShard(std::string_view name) const;
  const std::string& default_domain() const { return default_domain_; }

 private:
  // Heterogeneous lookup: find() with a string_view key does not build a std::string.
  struct ViewHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using IndexMap = std::unordered_map<std::string, uint32_t, ViewHash, std::equal_to<>>;

  Router() = default;
  // Rendezvous winner for an already-normalized name.
  size_t HashShard(std::string_view normalized) const;

  std::vector<Shard> shards_;
  // What the rendezvous loop reads, packed: shards_[i]'s seed and weight.
  struct Scoring {
    uint64_t seed;
    double weight;
  };
  std::vector<Scoring> scoring_;
  std::string default_domain_;
  IndexMap by_name_;
  IndexMap overrides_;
  IndexMap domains_;
};

}  // namespace imapgate::route
