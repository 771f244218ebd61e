// Config: the validated, immutable configuration snapshot, loaded from one YAML file.
//
// LoadConfigFile parses and validates the whole file and returns either a Config or every error
// found, each as "FILE:LINE:COL: message" (1-based). Only config/ includes yaml-cpp; its
// exceptions never leave this folder. A Config is shared read-only between threads as
// std::shared_ptr<const Config>; a reload builds a new one.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace imapgate::config {

// Where a value came from, for errors found after parsing (e.g. a certificate that won't load).
struct SourceLocation {
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
  // "FILE:LINE:COL", or just "FILE" when the line is unknown (never "FILE:0:0").
  std::string ToString() const;
};

// An address to bind or connect: IPv4/IPv6 literal or host name, and port.
struct Endpoint {
  std::string host;
  uint16_t port = 0;
};

enum class ListenerMode { kImplicitTls, kStartTls };

struct TlsFiles {
  std::string certificate;  // PEM chain path
  std::string key;          // PEM private key path
  SourceLocation location;  // of the listener's "tls" node
};

struct ListenerConfig {
  std::string name;  // used as the metrics/log label; unique; [a-z0-9_-]{1,32}
  Endpoint address;
  ListenerMode mode = ListenerMode::kImplicitTls;
  TlsFiles tls;
  SourceLocation address_location;  // of the "address" value, for bind/resolve errors
};

enum class BackendSecurity { kPlaintext, kTls, kStartTls };

struct BackendConfig {
  std::string name = "default";
  Endpoint address;
  BackendSecurity security = BackendSecurity::kPlaintext;
  std::string tls_ca_file;      // for kTls/kStartTls: CA bundle to verify the backend; empty = system default
  bool tls_verify = true;       // verify the backend certificate and name
  std::string tls_server_name;  // SNI and name to verify; defaults to address.host
  bool send_proxy_v2 = false;   // "proxy_protocol": send a PROXY v2 header first
  // Where the values are, for errors found after parsing (resolve, CA file): the "address"
  // value, and the "tls_ca" value (or, when absent, "security", else the backend mapping).
  SourceLocation address_location;
  SourceLocation tls_ca_location;
};

// One shard: a group of backends holding the same users' mail (top-level `shards:`). The old
// top-level `backend:` becomes one shard named "default" with weight 1 holding that backend.
struct ShardConfig {
  std::string name;                    // [a-z0-9_-]{1,32}, unique
  uint32_t weight = 1;                 // share of the hashed users, relative to the other shards
  std::vector<BackendConfig> backends;  // primary first, then replicas in failover order
  SourceLocation location;             // of the shard's mapping
};

// Override file entries: normalized user name (see route/normalize.h) -> shard name.
using OverrideMap = std::unordered_map<std::string, std::string>;

// How users are routed to shards (top-level `routing:`); the router is route::Router.
struct RoutingConfig {
  std::string default_domain;                  // lowercase; appended to bare user names; "" = none
  std::string override_file;                   // resolved path; "" = none
  OverrideMap overrides;                       // the override file's entries, read at load
  std::map<std::string, std::string> domains;  // lowercase domain -> shard name
  SourceLocation override_file_location;       // of the "override_file" value
};

struct Limits {
  size_t max_command_line_bytes = 8192;
  size_t max_literal_bytes = 8192;          // each literal before login
  size_t max_preauth_bytes = 65536;         // all bytes a client may send before login
  int max_bad_commands = 10;                // BAD answers before "* BYE"
  int max_auth_attempts = 3;                // failed logins before "* BYE"
  size_t max_sessions_per_worker = 100000;  // accept pauses beyond this
  size_t relay_high_watermark_bytes = 262144;  // stop reading a side when this much is queued
  size_t relay_low_watermark_bytes = 65536;    // resume below this
  size_t backend_max_line_bytes = 65536;    // backend response lines before login
};

struct Timeouts {
  std::chrono::milliseconds preauth{60000};          // from accept until login completes
  std::chrono::milliseconds tls_handshake{10000};
  std::chrono::milliseconds idle{30 * 60 * 1000};     // after login, no bytes either way
  std::chrono::milliseconds backend_connect{5000};
  std::chrono::milliseconds backend_login{15000};    // greeting through tagged LOGIN answer
  std::chrono::milliseconds shutdown_grace{10000};   // SIGTERM drain
};

struct AdminConfig {
  Endpoint address{"127.0.0.1", 9464};  // port 0 disables
};

// Who the process runs as (top-level keys user, group, allow_root). Started as root, imapgate
// binds its listeners and loads its keys, then switches to user/group before serving; it refuses
// to serve as root unless allow_root is true. Started as another user, user/group are ignored
// (with a warning), as nginx does.
struct ProcessConfig {
  std::string user;         // account to switch to; "" = stay as started
  std::string group;        // group to switch to; "" = the user's primary group
  bool allow_root = false;  // serve as root (no user, or user: root) on purpose
};

struct Config {
  std::string source_file;
  ProcessConfig process;
  int workers = 0;  // 0 = one per online core
  std::vector<ListenerConfig> listeners;
  // The first shard's primary backend: what A's single-backend code reads (with `backend:`, the
  // backend itself).
  BackendConfig backend;
  std::vector<ShardConfig> shards;  // never empty in a loaded Config
  RoutingConfig routing;
  Limits limits;
  Timeouts timeouts;
  AdminConfig admin;
  std::string log_level = "info";  // debug | info | warn | error
};

using ConfigPtr = std::shared_ptr<const Config>;

// Loads and validates `path`, and the routing override file it names (if any). On failure the
// Status message holds one error per line, each "FILE:LINE:COL: message"; an error inside the
// override file is reported at the config's override_file value and names its own
// "OVERRIDE_FILE:LINE:COL".
StatusOr<ConfigPtr> LoadConfigFile(const std::string& path);
// Same, from text (file name used for messages and relative paths; the override file, if named,
// is still read from disk).
StatusOr<ConfigPtr> LoadConfigText(const std::string& text, const std::string& file_name);

}  // namespace imapgate::config
