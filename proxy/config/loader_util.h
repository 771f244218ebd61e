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

// yaml-cpp 0.7 can loop forever on some malformed UTF-8 (found by fuzz/config_fuzzer), so a
// file's text is checked first: valid UTF-8, and no control characters but tab, LF and CR (YAML
// 1.2 excludes them too). True, with the 1-based position of the first bad byte, when one is found.
bool FindBadByte(std::string_view text, int* line, int* column);

// The 1-based line of a "---" or "..." marker that starts a second document, or 0 (yaml-cpp's
// LoadAll can loop forever, and Load would silently ignore the rest). A "---" before any content
// opens the first document.
int SecondDocumentLine(std::string_view text);

}  // namespace imapgate::config::internal
