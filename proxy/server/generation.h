// Generation: one immutable, refcounted snapshot of everything derived from a Config — the
// settings, the TLS contexts, the listener specs, the shard map with its backends and router (later
// users and limits). Built once per configuration (at start, and by a reload), then shared read-only
// as std::shared_ptr<const Generation>:
//   * each worker holds the current one and receives a new one by message (Worker::SetGeneration,
//     a Post to its loop);
//   * each session keeps the generation it started with until it ends, so a reload never changes
//     the settings, certificates or backend of a session in flight, and the old generation (its
//     TLS contexts included) is freed when its last session ends.
// Nothing else points into a Config or a start-up local.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "abuse/abuse_plan.h"
#include "auth/auth_services.h"
#include "common/status.h"
#include "config/config.h"
#include "health/backend_health_table.h"
#include "login/backend_pool.h"
#include "net/socket.h"
#include "relay/relay.h"
#include "session/session.h"
#include "tls/tls_context.h"
#include "upstream/backend_login.h"

namespace imapgate::stats {
class Metrics;
}

namespace imapgate::server {

// One configured listener: what its sessions use (context) and where it listens.
struct ListenerSpec {
  session::ListenerContext context;  // context.frontend.tls points into Generation::server_tls
  net::SocketAddress address;
  config::ListenerMode mode = config::ListenerMode::kImplicitTls;
  std::string endpoint;  // "host:port" as configured, for logs
};

struct Generation {
  uint64_t id = 0;  // 1 for the start-up configuration, +1 per reload
  config::ConfigPtr config;
  std::vector<std::shared_ptr<tls::TlsServerContext>> server_tls;  // one per listener
  std::vector<ListenerSpec> listeners;                             // in config order
  login::BackendPool pool;  // shards, backends in failover order, router, shared health table
  relay::RelayOptions relay;
  // The auth chain of each listener, its sources and the second factor (issue B).
  std::shared_ptr<const auth::GenerationAuth> auth;
  // The abuse defence's settings (issue C).
  abuse::AbusePlanPtr abuse;
};

using GenerationPtr = std::shared_ptr<const Generation>;

// Builds a generation from config: loads every certificate and key, resolves every address,
// builds the router. metrics (may be null, e.g. for -t) hands out the label index of each
// listener; without it the index is the listener's position. health (may be null, e.g. for -t)
// is the Server's table: each backend gets its index there by name (kept across reloads). Fails
// with one "FILE:LINE:COL: message" line per problem.
// auth_services (may be null, e.g. for -t) is the Server's: users stores, caches, the hash pool.
// moves (may be null) is the Server's table of users moved at runtime, shared by every generation.
StatusOr<GenerationPtr> BuildGeneration(config::ConfigPtr config, stats::Metrics* metrics, uint64_t id,
                                        std::shared_ptr<health::BackendHealthTable> health = nullptr,
                                        std::shared_ptr<auth::AuthServices> auth_services = nullptr,
                                        std::shared_ptr<route::RuntimeMoves> moves = nullptr);

// "implicit" or "starttls", as in the config file.
const char* ListenerModeName(config::ListenerMode mode);

}  // namespace imapgate::server
