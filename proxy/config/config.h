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

#include "common/secret.h"
#include "common/status.h"
#include "config/abuse_config.h"
#include "config/cidr.h"
#include "config/source_location.h"

namespace imapgate::config {

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

// PROXY protocol (v1 or v2) in front of a listener's connections (the listener's
// `proxy_protocol:` mapping). kRequired: every connection must start with a PROXY header and come
// from one of `trusted`; anything else is closed.
struct ProxyProtocolInConfig {
  enum class Mode { kOff, kRequired };
  Mode mode = Mode::kOff;
  std::vector<CidrRange> trusted;            // non-empty when kRequired; at most 256
  std::chrono::milliseconds timeout{3000};   // for the whole header, from accept
  SourceLocation location;                   // of the `proxy_protocol` mapping
};

struct ListenerConfig {
  std::string name;  // used as the metrics/log label; unique; [a-z0-9_-]{1,32}
  Endpoint address;
  ListenerMode mode = ListenerMode::kImplicitTls;
  TlsFiles tls;
  ProxyProtocolInConfig proxy_protocol;
  SourceLocation address_location;  // of the "address" value, for bind/resolve errors
  // `auth_chain:` source names in order (each in auth.sources); empty: auth.chain.
  std::vector<std::string> auth_chain;
  // `auth_mechanisms:` the SASL mechanisms AUTHENTICATE accepts (PLAIN, LOGIN, XOAUTH2,
  // OAUTHBEARER); empty: auth.mechanisms.
  std::vector<std::string> auth_mechanisms;
  SourceLocation auth_chain_location;  // of the "auth_chain" value, or of the listener
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

// How imapgate logs in to the backends (top-level or per-shard `backend_login:`): with the
// client's own credentials (A's pass-through), or as a master user acting for the client. Maps
// one to one onto upstream::MasterUserCredentials (the user is the client's).
struct BackendLoginConfig {
  enum class Mode { kClient, kMaster };
  enum class Form {
    kLoginSeparator,   // LOGIN "<user><separator><master_user>" <master password>
    kSaslPlainAuthzid  // AUTHENTICATE PLAIN with the user as authzid
  };
  Mode mode = Mode::kClient;
  Form form = Form::kLoginSeparator;
  std::string master_user;           // kMaster: not a secret (logged as a name)
  std::string master_password_file;  // resolved path; "" in kClient mode
  // kMaster: the file's content, read at load (mode 600, at most 4 KiB), wiped when the last
  // Config holding it is released; never null in kMaster mode.
  std::shared_ptr<const SecretString> master_password;
  char separator = '*';     // Dovecot's auth_master_user_separator (kLoginSeparator)
  SourceLocation location;  // of the `backend_login` mapping; the file when the default applies
};

// One shard: a group of backends holding the same users' mail (top-level `shards:`). The old
// top-level `backend:` becomes one shard named "default" with weight 1 holding that backend.
struct ShardConfig {
  std::string name;                    // [a-z0-9_-]{1,32}, unique
  uint32_t weight = 1;                 // share of the hashed users, relative to the other shards
  std::vector<BackendConfig> backends;  // primary first, then replicas in failover order
  BackendLoginConfig backend_login;     // its own `backend_login:`, else the top-level one
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
  std::chrono::milliseconds drain_grace{60000};      // admin drain: until live sessions get BYE
};

// Active health checks of every backend (top-level `health_checks:`): connect, greeting,
// CAPABILITY every `interval`; `rise` successes in a row mark a down backend up, `fall` failures
// in a row mark an up backend down. timeout <= interval (checked).
struct HealthCheckConfig {
  bool enabled = true;
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{3000};
  int rise = 2;
  int fall = 2;
};

// Warm backend connections (top-level `warm_connections:`): per worker and per backend that is
// up, up to `per_backend` connections kept connected and greeted for the next logins, each
// replaced after `max_age` (keep it below the backends' own pre-login timeout). 0: off.
struct WarmConnectionsConfig {
  size_t per_backend = 0;
  std::chrono::milliseconds max_age{30000};
};

// One source of the auth chain (`auth.sources.<name>`): who decides whether a login is good.
struct AuthSourceConfig {
  enum class Type {
    kFile,     // a users file: hashes checked on the hash pool, TOTP, app passwords, 2FA policy
    kHttp,     // an nginx auth_http-compatible service
    kBackend,  // A's pass-through: the backend checks the client's credentials
  };
  std::string name;  // [a-z0-9_-]{1,32}, unique; a metrics label
  Type type = Type::kBackend;
  // kFile.
  std::string users_file;            // resolved path
  bool unknown_users_next = false;   // `unknown_users: next` (default `reject`, at equal cost)
  // kHttp.
  std::string url;                   // http://IP:PORT/path, https://..., unix:/path.sock:/uri
  std::chrono::milliseconds timeout{5000};
  std::string ca_file;               // https: CA bundle; empty = the system's
  bool verify = true;                // https: verify the certificate and name
  size_t max_idle = 4;               // idle keep-alive connections per worker
  SourceLocation location;           // of the source's mapping
};

// The push approval hook (`auth.second_factor.push`): a JSON POST per login that needs it.
struct PushHookConfig {
  std::string url;                               // "" = no push hook
  std::chrono::milliseconds timeout{60000};      // the whole approval, polls included
  std::chrono::milliseconds poll_interval{2000};  // after a "pending" answer
  std::chrono::milliseconds request_timeout{5000};
  std::string ca_file;
  bool verify = true;
  SourceLocation location;
};

// Top-level `auth:`. Without it, every listener's chain is [backend] (A's pass-through).
struct AuthConfig {
  std::vector<AuthSourceConfig> sources;          // in file order
  std::vector<std::string> chain;                 // the default chain (source names)
  std::vector<std::string> mechanisms = {"PLAIN", "LOGIN"};
  int hash_threads = 2;                           // the hash pool's threads
  size_t hash_queue = 64;                         // checks waiting; beyond: NO [UNAVAILABLE]
  std::chrono::milliseconds cache_ttl{300000};    // auth cache of good primary checks; 0 = off
  size_t cache_max_entries = 100000;
  std::chrono::milliseconds remember_devices{12 * 3600 * 1000};  // after a 2nd factor; 0 = off
  PushHookConfig push;
  std::chrono::milliseconds timeout{10000};       // one login's checks (a push adds its own)
  // Users (normalized names) who may log in for another user with a SASL authzid; empty: an
  // authzid other than the user is refused.
  std::vector<std::string> master_users;
  SourceLocation location;                        // of `auth:`; the file when absent
  SourceLocation chain_location;                  // of the `chain` value
};

struct AdminConfig {
  Endpoint address{"127.0.0.1", 9464};  // port 0 disables
  // `token_file`: the bearer token every POST must carry, read at load (mode 600, 16..4096
  // printable ASCII characters without spaces). Null when no token_file: every POST gets 401.
  std::string token_file;  // resolved path; "" = none
  std::shared_ptr<const SecretString> token;
  SourceLocation token_file_location;  // of the "token_file" value
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
  BackendLoginConfig backend_login;  // top-level `backend_login:`; each shard has its own copy
  HealthCheckConfig health_checks;
  WarmConnectionsConfig warm_connections;
  Limits limits;
  Timeouts timeouts;
  AdminConfig admin;
  AuthConfig auth;
  AbuseConfig abuse;
  std::string log_level = "info";  // debug | info | warn | error
  std::string log_format = "logfmt";  // logfmt | json (a reload changes it)
  // Absolute path of the log file (relative ones are resolved against the config file's
  // directory); empty: stderr. A reload's new value takes effect at the next SIGUSR1 reopen.
  std::string log_file;
};

using ConfigPtr = std::shared_ptr<const Config>;

// Loads and validates `path`, and the routing override file and secret files it names (if any). On failure the
// Status message holds one error per line, each "FILE:LINE:COL: message"; an error inside the
// override file is reported at the config's override_file value and names its own
// "OVERRIDE_FILE:LINE:COL".
StatusOr<ConfigPtr> LoadConfigFile(const std::string& path);
// Same, from text (file name used for messages and relative paths; the override file and the
// secret files, if named, are still read from disk).
StatusOr<ConfigPtr> LoadConfigText(const std::string& text, const std::string& file_name);

}  // namespace imapgate::config
