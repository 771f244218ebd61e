// Shared pieces of the config loader's section readers: name rules, path resolution and the
// backend link options (A's `backend:` keys), which both `backend:` and each shard's
// `backends:` entries use. Private to config/.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace imapgate::config::internal {

// Listener, shard and backend labels: [a-z0-9_-]{1,32}, safe as metric labels and log values.
bool IsValidName(std::string_view name);

// Reports a name that breaks IsValidName, at the value of `key`.
void CheckName(const MapReader& map, std::string_view key, const std::string& name,
               ErrorList* errors);

// Resolves a path from the file against the config file's directory `base_dir`. Symlinks in the
// existing prefix are resolved so that "../x" means what the kernel would make of it.
std::string ResolvePath(const std::filesystem::path& base_dir, const std::string& text);

// "LINE:COL" (1-based) of a yaml-cpp mark, for "(first at ...)" notes.
std::string Position(const YAML::Mark& mark);

// The keys of one backend mapping: A's link options, plus proxy_protocol.
const std::vector<std::string_view>& BackendKeys();

// Reads the backend link options present in `map` (built with BackendKeys()) into *out; "name"
// is read when present (the caller decides whether it is required).
void ReadBackendFields(const MapReader& map, const std::filesystem::path& base_dir,
                       ErrorList* errors, BackendConfig* out);

// Reads the whole of `path`, a regular file (a FIFO or device is refused without blocking) of at
// most max_bytes. Errors read "PATH: cannot read file: why".
StatusOr<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes);

}  // namespace imapgate::config::internal
