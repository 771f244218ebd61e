// Units: parsing and formatting of the duration and size values used in the config file.
//
// A duration is a non-negative decimal integer followed by a required unit: ms, s, m or h
// ("250ms", "30s", "5m", "1h"). A size is a non-negative decimal integer with an optional unit:
// B, KiB, MiB or GiB, all 1024-based ("8192", "8KiB", "1MiB"). Decimal units (KB, MB, ...) are
// rejected on purpose, so nobody has to guess whether "8KB" means 8000 or 8192 bytes. Units are
// case-sensitive; one optional space may separate the number from the unit. Values that do not
// fit are errors, never wrapped. Pure functions, safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace imapgate::config {

// Parses a duration such as "30s". The error message describes the problem without location.
StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

// Parses a size such as "8KiB" into bytes. The error message describes the problem without
// location.
StatusOr<uint64_t> ParseSize(std::string_view text);

// Formats `bytes` with the largest unit that divides it exactly: 8192 -> "8KiB", 1000 -> "1000B".
std::string FormatSize(uint64_t bytes);

// Formats `d` with the largest unit that divides it exactly: 60000ms -> "1m", 1500ms -> "1500ms".
std::string FormatDuration(std::chrono::milliseconds d);

// Quotes a value for an error message: 'text', with printable ASCII kept, any other byte (and
// quote or backslash) as \xNN, and cut after 40 bytes, so a message stays one short line.
std::string QuoteForMessage(std::string_view text);

}  // namespace imapgate::config
