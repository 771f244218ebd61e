// The config loader's reader for issue C's top-level `abuse:` mapping. Private to config/.
#pragma once

#include <filesystem>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace imapgate::config::internal {

inline constexpr size_t kMaxAbuseNetworks = 1024;  // trusted_networks, blocklist: entries each

// Reads `abuse:` into *out; base_dir resolves key_file, redis.password_file, policy_hook.nonce_file
// and policy_hook.ca_file.
void ReadAbuse(const Field& field, const std::filesystem::path& base_dir, ErrorList* errors,
               AbuseConfig* out);

}  // namespace imapgate::config::internal
