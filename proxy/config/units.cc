#include "config/units.h"

#include <array>
#include <charconv>
#include <limits>
#include <system_error>

namespace imapgate::config {
namespace {

struct Unit {
  std::string_view name;
  uint64_t factor;
};

constexpr std::array<Unit, 4> kDurationUnits = {{
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
}};

constexpr std::array<Unit, 4> kSizeUnits = {{
    {"B", 1},
    {"KiB", uint64_t{1} << 10},
    {"MiB", uint64_t{1} << 20},
    {"GiB", uint64_t{1} << 30},
}};

}  // namespace

std::string QuoteForMessage(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  size_t n = 0;
  for (unsigned char c : text) {
    if (++n > 40) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  out += "'";
  return out;
}

namespace {

std::string Quote(std::string_view text) { return QuoteForMessage(text); }

struct Split {
  uint64_t number = 0;
  std::string_view unit;
};

// Splits "<digits>[ ]<unit>" and parses the digits. `what` names the kind of value for messages.
StatusOr<Split> SplitNumberAndUnit(std::string_view text, std::string_view what) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) {
    return InvalidArgument("invalid " + std::string(what) + " " + Quote(text) +
                           ": expected a non-negative integer followed by a unit");
  }
  Split split;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, split.number);
  if (ec == std::errc::result_out_of_range) {
    return InvalidArgument(std::string(what) + " " + Quote(text) + " is out of range");
  }
  if (ec != std::errc() || end != text.data() + digits) {
    return InvalidArgument("invalid " + std::string(what) + " " + Quote(text));
  }
  split.unit = text.substr(digits);
  if (!split.unit.empty() && split.unit.front() == ' ') split.unit.remove_prefix(1);
  return split;
}

template <size_t N>
const Unit* FindUnit(const std::array<Unit, N>& units, std::string_view name) {
  for (const Unit& unit : units) {
    if (unit.name == name) return &unit;
  }
  return nullptr;
}

template <size_t N>
std::string FormatWithUnits(const std::array<Unit, N>& units, uint64_t value) {
  const Unit* best = &units[0];
  for (const Unit& unit : units) {
    if (value != 0 && value % unit.factor == 0) best = &unit;
  }
  return std::to_string(value / best->factor) + std::string(best->name);
}

}  // namespace

StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  StatusOr<Split> split = SplitNumberAndUnit(text, "duration");
  if (!split.ok()) return split.status();
  if (split->unit.empty()) {
    return InvalidArgument("duration " + Quote(text) +
                           " needs a unit: ms, s, m or h (e.g. \"30s\")");
  }
  const Unit* unit = FindUnit(kDurationUnits, split->unit);
  if (unit == nullptr) {
    return InvalidArgument("unknown duration unit " + Quote(split->unit) + " in " + Quote(text) +
                           " (use ms, s, m or h)");
  }
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (split->number > kMax / unit->factor) {
    return InvalidArgument("duration " + Quote(text) + " is out of range");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(split->number * unit->factor));
}

StatusOr<uint64_t> ParseSize(std::string_view text) {
  StatusOr<Split> split = SplitNumberAndUnit(text, "size");
  if (!split.ok()) return split.status();
  uint64_t factor = 1;
  if (!split->unit.empty()) {
    const Unit* unit = FindUnit(kSizeUnits, split->unit);
    if (unit == nullptr) {
      return InvalidArgument("unknown size unit " + Quote(split->unit) + " in " + Quote(text) +
                             " (use B, KiB, MiB or GiB; units are 1024-based)");
    }
    factor = unit->factor;
  }
  if (split->number > std::numeric_limits<uint64_t>::max() / factor) {
    return InvalidArgument("size " + Quote(text) + " is out of range");
  }
  return split->number * factor;
}

std::string FormatSize(uint64_t bytes) { return FormatWithUnits(kSizeUnits, bytes); }

std::string FormatDuration(std::chrono::milliseconds d) {
  if (d.count() < 0) return std::to_string(d.count()) + "ms";
  return FormatWithUnits(kDurationUnits, static_cast<uint64_t>(d.count()));
}

}  // namespace imapgate::config
