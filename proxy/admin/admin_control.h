// AdminControl: what the admin API reads and changes, as an interface over the proxy's state.
//
// admin::AdminApi calls it on the admin endpoint's loop thread (the main thread), one call per
// request, and waits for the answer: an implementation must not block for long (it may post work
// to the workers and read a shared table, but never wait on the network). The production
// implementation sits over the router, the health table and the session registry; tests use a
// double. Names arrive validated (net::IsValidRouteName) but not normalized and not known to
// exist: an unknown backend is kNotFound. Errors map to HTTP statuses: kNotFound 404,
// kInvalidArgument 400, kUnavailable 503, anything else 500 (Reload: any error is 422).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/status_board.h"
#include "common/status.h"

namespace imapgate::admin {

enum class BackendState { kUp, kDown, kDraining };

// "up", "down" or "draining", as the API and imapgatectl show it.
std::string_view BackendStateName(BackendState state);

// The last active health check of a backend.
struct HealthCheckResult {
  bool ok = false;
  std::string detail;           // e.g. "ok", "connect: Connection refused", "no greeting"
  int64_t at_unix_seconds = 0;  // when it finished (wall clock)
};

struct BackendInfo {
  std::string name;
  std::string shard;
  std::string address;   // host:port
  std::string security;  // "plaintext", "tls" or "starttls"
  BackendState state = BackendState::kUp;
  uint64_t active_sessions = 0;
  std::optional<HealthCheckResult> last_check;  // none before the first check
};

struct SessionInfo {
  std::string id;  // imapgate's session id, as in the logs
  std::string user;
  std::string client_address;  // the client's address (from PROXY protocol when trusted)
  std::string backend;         // backend name
  int64_t started_unix_seconds = 0;
  uint64_t bytes_from_client = 0;  // client to backend
  uint64_t bytes_to_client = 0;    // backend to client
};

// The router's answer for a user, now.
struct RouteInfo {
  std::string user;     // the normalized user name the router used
  std::string shard;
  std::string backend;  // the backend a login would use now; "" when none is up
  std::string source;   // "auth", "override", "domain" or "hash"
  std::string reason;   // free text, e.g. "primary a1 down, replica a2"
};

// Issue C: a block of the abuse defence, as the API lists it.
struct AbuseBlockInfo {
  std::string scope;  // "address" or "subnet"
  std::string key;    // "192.0.2.7", "192.0.2.0/24"
  std::string cause;  // "address_failures", "spraying", "subnet_failures", "operator"
  int64_t remaining_seconds = 0;
};

// Issue C: an address's or a user's counters (distinct failed passwords within the window).
struct AbuseCountersInfo {
  std::string key;
  uint64_t failures = 0;
  uint64_t users_tried = 0;  // addresses only: distinct user names failed from it
  std::optional<AbuseBlockInfo> block;
};

// A client listener, as the status page shows it.
struct ListenerInfo {
  std::string name;
  std::string address;  // host:port as configured
  std::string mode;     // "implicit" (TLS from the first byte) or "starttls"
  bool tls = true;      // whether the listener offers TLS (every imapgate listener does)
  bool proxy_protocol = false;  // whether it expects a PROXY protocol header first
};

// A shard and its backends in failover order.
struct ShardInfo {
  std::string name;
  std::vector<BackendInfo> backends;
};

// Everything GET /api/v1/status and /readyz report: the process, its listeners, shards and
// backends, the counters and the recent refusals (newest first).
struct StatusInfo {
  std::string version;
  int64_t started_unix_seconds = 0;
  int64_t config_loaded_unix_seconds = 0;  // start-up, or the last successful reload
  int64_t now_unix_seconds = 0;
  bool draining = false;         // a graceful shutdown (SIGTERM) is under way
  bool config_loaded = false;    // a configuration is in effect
  bool listeners_bound = false;  // every client listener is bound and served by the workers
  std::vector<ListenerInfo> listeners;
  std::vector<ShardInfo> shards;
  StatusCounts counts;
  std::vector<Refusal> refusals;  // newest first, at most refusals_capacity
  uint64_t refusals_total = 0;    // since start-up, including those no longer listed
  uint64_t refusals_capacity = 0;
};

class AdminControl {
 public:
  virtual ~AdminControl() = default;

  // Every backend of every shard, in config order.
  virtual std::vector<BackendInfo> Backends() = 0;
  // Live sessions, of user only when given (compared after normalization), at most max_sessions
  // of them; *truncated says whether there were more.
  virtual std::vector<SessionInfo> Sessions(std::optional<std::string_view> user,
                                            size_t max_sessions, bool* truncated) = 0;
  // Where a login of user would go now.
  virtual StatusOr<RouteInfo> Route(std::string_view user) = 0;
  // Marks backend draining: new logins fail over; after grace (the configured one when none is
  // given) its sessions get "* BYE". Returns the backend's state after the change.
  virtual StatusOr<BackendInfo> Drain(std::string_view backend,
                                      std::optional<std::chrono::seconds> grace) = 0;
  // Ends a drain: the backend takes logins again once it is up.
  virtual StatusOr<BackendInfo> Undrain(std::string_view backend) = 0;
  // Sends "* BYE" to every session of user; returns how many were kicked (0 is not an error).
  virtual StatusOr<uint64_t> Kick(std::string_view user) = 0;
  // Moves user to shard now (issue C, point 5): new logins go there (before any other
  // placement, until a restart: the override file stays the record), the user's sessions get
  // "* BYE", and with a fleet store every instance does the same. Returns how many sessions of
  // this instance were ended; kNotFound for an unknown shard.
  virtual StatusOr<uint64_t> MoveUser(std::string_view user, std::string_view shard) {
    (void)user;
    (void)shard;
    return Status(StatusCode::kUnavailable, "moving users is not available");
  }
  // Issue B: revokes the app password `name` of `user` (a users file's): it is refused from now
  // on (until a restart: the users file stays the record, the operator removes it there), and
  // the sessions that logged in with it get "* BYE". Returns how many were ended; kNotFound when
  // the user has no such app password.
  virtual StatusOr<uint64_t> RevokeAppPassword(std::string_view user, std::string_view name) = 0;
  // The same as SIGHUP: reads, validates and swaps in the config and override files. An error
  // says why nothing changed (FILE:LINE:COL: message).
  virtual Status Reload() = 0;

  // Issue E: the state GET /api/v1/status shows and /readyz judges (admin/readiness.h).
  // Default: kUnavailable, for doubles without one.
  virtual StatusOr<StatusInfo> StatusReport() {
    return Status(StatusCode::kUnavailable, "the status report is not available");
  }

  // Issue C (defaults: kUnavailable, for doubles that have no abuse defence). The blocks in force
  // (at most max; *truncated when there were more); lifting one block (key: an address or a
  // CIDR subnet as listed; false when none was in force); an address's and a user's counters.
  virtual StatusOr<std::vector<AbuseBlockInfo>> AbuseBlocks(size_t max, bool* truncated) {
    (void)max;
    (void)truncated;
    return Status(StatusCode::kUnavailable, "the abuse defence is not available");
  }
  virtual StatusOr<bool> AbuseUnblock(std::string_view key) {
    (void)key;
    return Status(StatusCode::kUnavailable, "the abuse defence is not available");
  }
  virtual StatusOr<AbuseCountersInfo> AbuseAddress(std::string_view address) {
    (void)address;
    return Status(StatusCode::kUnavailable, "the abuse defence is not available");
  }
  virtual StatusOr<AbuseCountersInfo> AbuseUser(std::string_view user) {
    (void)user;
    return Status(StatusCode::kUnavailable, "the abuse defence is not available");
  }
};

}  // namespace imapgate::admin
