// The config loader's readers for issue B's keys: the top-level `auth:` mapping (sources, the
// default chain, SASL mechanisms, the hash pool, the auth cache, remembered devices, the push
// hook, master users) and a listener's `auth_chain:` / `auth_mechanisms:`. Private to config/.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace imapgate::config::internal {

inline constexpr size_t kMaxAuthSources = 16;
inline constexpr size_t kMaxMasterUsers = 64;

// Reads `auth:` into *out (sources, chain, ...); base_dir resolves users_file and ca_file.
void ReadAuth(const Field& field, const std::filesystem::path& base_dir, ErrorList* errors,
              AuthConfig* out);

// Reads a list of SASL mechanism names (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER; case-insensitive,
// stored upper-case, no duplicates).
void ReadMechanisms(const Field& field, ErrorList* errors, std::vector<std::string>* out);

// Reads a list of source names (at most kMaxAuthSources, no duplicates); whether each exists is
// checked by CheckAuthChains once everything is read.
void ReadSourceNames(const Field& field, ErrorList* errors, std::vector<std::string>* out);

// After the whole file is read: every chain (auth.chain and each listener's) names defined
// sources, `backend` sources come last, and an empty default chain becomes [backend] when no
// auth: was given. Errors point at the chain's value.
void CheckAuthChains(Config* config, ErrorList* errors);

}  // namespace imapgate::config::internal
