// BackendPool: where logins may go — the shards, each with its backends in failover order, the
// router that picks a user's shard, and the shared health table that says which backend may take
// a login now. Part of a configuration generation (built by server/generation.cc), so it is
// immutable and shared read-only by every worker; the health table is the one mutable part, owned
// by the Server and shared across generations (a backend keeps its index and state by name).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "health/backend_health_table.h"
#include "route/router.h"
#include "route/runtime_moves.h"
#include "stats/metrics.h"
#include "tls/tls_context.h"
#include "upstream/backend_connector.h"
#include "upstream/backend_credentials.h"

namespace imapgate::login {

// One backend of a shard.
struct PoolBackend {
  std::string name;               // config name: logs, metrics, admin API
  size_t shard = 0;               // index into BackendPool::shards
  size_t health = 0;              // index into the health table
  upstream::BackendTarget target;  // address, link security, timeouts, PROXY v2 out
  int metrics_index = -1;         // stats::Metrics::BackendIndex; -1: no metrics
};

// A master user the shard's backends accept (Dovecot master users): the backend login acts for the
// user with these credentials, so the backend never needs the user's password. Used only for a
// login that an earlier step authenticated (never on the client's word alone).
struct MasterLogin {
  upstream::MasterUserCredentials::Form form = upstream::MasterUserCredentials::Form::kLoginSeparator;
  std::string master_user;
  std::shared_ptr<const SecretString> master_password;  // read from a file at config load
  char separator = '*';
};

// One shard: its backends in failover order (primary first).
struct PoolShard {
  std::string name;
  std::optional<MasterLogin> master;  // none: the client's own credentials (pass-through)
  std::vector<size_t> backends;      // indices into BackendPool::backends
  std::vector<size_t> health_order;  // the same backends as health-table indices
  int metrics_index = -1;            // stats::Metrics::ShardIndex; -1: no metrics
};

struct BackendPool {
  std::shared_ptr<const route::Router> router;  // decision.shard indexes `shards`
  std::vector<PoolShard> shards;
  std::vector<PoolBackend> backends;
  std::vector<std::shared_ptr<tls::TlsClientContext>> tls;  // owns what targets point to
  // Shared with the Server, the checker and the admin API; null in tests that need no health
  // (every backend then counts as usable).
  std::shared_ptr<health::BackendHealthTable> health;
  // Users moved at runtime (the Server's, kept across reloads); null: none.
  std::shared_ptr<route::RuntimeMoves> moves;
  // Where logins record backend connect and login latency and backend errors (by each
  // backend's metrics_index); not owned, outlives the pool (the Server's). Null: no metrics.
  stats::Metrics* metrics = nullptr;

  // The backend named `name`, if any.
  const PoolBackend* FindBackend(std::string_view name) const {
    for (const PoolBackend& b : backends) {
      if (b.name == name) return &b;
    }
    return nullptr;
  }
};

// A pool of one shard ("default") holding one backend, `name` at `target`, without health
// (every try is made). For tests and tools.
// Each shard's backends for the shard gauges (stats::Metrics::SetShardBackends): configured, and
// usable now (up and not draining) per the health table (without one, all count as usable).
// Shards without a metrics index are left out. Reads the health table's atomics: for a scrape.
std::vector<stats::Metrics::ShardBackendCount> ShardBackendCounts(const BackendPool& pool);

StatusOr<BackendPool> SingleBackendPool(std::string name, upstream::BackendTarget target);

}  // namespace imapgate::login
