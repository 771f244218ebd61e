// The config loader's readers for the keys D's operations need: `health_checks:`, a listener's
// `proxy_protocol:`, and the secret-file keys (admin.token_file, and backend_login's
// master_password_file). Private to config/.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/secret_file.h"
#include "config/yaml_reader.h"

namespace imapgate::config::internal {

inline constexpr size_t kMaxTrustedProxies = 256;

// Reads the top-level `warm_connections:` mapping (per_backend 0..64, max_age 1s..10m).
void ReadWarmConnections(const Field& field, ErrorList* errors, WarmConnectionsConfig* out);

// Reads the top-level `health_checks:` mapping.
void ReadHealthChecks(const Field& field, ErrorList* errors, HealthCheckConfig* out);

// Reads a listener's `proxy_protocol:` mapping (mode, trusted, timeout).
void ReadProxyProtocolIn(const Field& field, ErrorList* errors, ProxyProtocolInConfig* out);

// Reports an inline secret key (`inline_key`, which must be among the map's known keys) as an
// error telling to use `file_key`; the value is never quoted.
void ReportInlineSecret(const MapReader& map, std::string_view inline_key,
                        std::string_view file_key, ErrorList* errors);

// Reads the path at `file_key` (resolved against base_dir) and the secret in that file into
// *path and *secret. Reports an inline `inline_key` (e.g. "master_password", which must be in the
// map's known keys) as an error that points to `file_key`. Errors never hold the secret. Returns
// true when `file_key` was present and the secret is loaded.
bool ReadSecretFileKey(const MapReader& map, std::string_view file_key,
                       std::string_view inline_key, SecretKind kind,
                       const std::filesystem::path& base_dir, ErrorList* errors,
                       std::string* path, std::shared_ptr<const SecretString>* secret);

}  // namespace imapgate::config::internal
