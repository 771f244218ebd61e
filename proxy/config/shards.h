// The config loader's readers for `shards:` and `routing:`, and the one-backend compatibility
// (`backend:` becomes the shard "default"). Private to config/.
#pragma once

#include <filesystem>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace imapgate::config::internal {

inline constexpr size_t kMaxShards = 1000;
inline constexpr size_t kMaxBackendsPerShard = 16;
inline constexpr int64_t kMaxShardWeight = 10000;
inline constexpr size_t kMaxDomainRules = 10000;

// Reads the top-level `shards:` and `routing:` of `root` into *config (after `backend:`, whose
// value is already in config->backend when present), reads the override file, and leaves
// config->shards non-empty and config->backend the first shard's primary when all is valid. A
// shard without its own `backend_login:` gets config->backend_login (read before this call).
void ReadShardsAndRouting(const MapReader& root, const std::filesystem::path& base_dir,
                          ErrorList* errors, Config* config);

}  // namespace imapgate::config::internal
