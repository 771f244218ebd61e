// The routing override file: one "USER SHARD" per line, '#' comments, blank lines.
//
//   # moved for the migration of 2026-11
//   alice@example.com  shard-b
//   Bob                shard-a   # bare name: takes routing.default_domain
//
// Users are normalized as the router does (ASCII lowercase, default domain for bare names).
// The file is read at load and again on every reload, so parsing is a pure function of the
// text. Errors are "FILE:LINE:COL: message" (1-based; columns count characters), one per line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace imapgate::config {

inline constexpr size_t kMaxOverrideLineBytes = 512;             // each line, without its newline
inline constexpr size_t kMaxOverrideEntries = 100000;            // "USER SHARD" lines
inline constexpr size_t kMaxOverrideFileBytes = 16 * 1024 * 1024;
inline constexpr size_t kMaxOverrideErrors = 20;  // reported; the rest are counted

// Parses the text of an override file. Every shard named must be in `known_shards`; a user may
// appear once (after normalization). `default_domain` must be lowercase ("" = none).
StatusOr<OverrideMap> ParseOverrides(std::string_view text, const std::string& file_name,
                                     const std::vector<std::string>& known_shards,
                                     std::string_view default_domain = {});

// Reads `path` (a regular file of at most kMaxOverrideFileBytes) and parses it. A file that
// cannot be read gives "PATH: cannot read file: why".
StatusOr<OverrideMap> LoadOverrideFile(const std::string& path,
                                       const std::vector<std::string>& known_shards,
                                       std::string_view default_domain = {});

}  // namespace imapgate::config
