#include "ratelimit/fleet_event.h"

#include <array>
#include <vector>

namespace imapgate::ratelimit {
namespace {

constexpr std::string_view kVersion = "v1";
constexpr size_t kMaxTokens = 8;

bool ValidInstanceChars(std::string_view id) {
  if (id.empty() || id.size() > kMaxFleetInstanceBytes) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Splits on single spaces into at most kMaxTokens tokens; false on an empty token or too many.
bool Split(std::string_view line, std::vector<std::string_view>* tokens) {
  size_t start = 0;
  while (true) {
    const size_t space = line.find(' ', start);
    const std::string_view token = line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
    if (token.empty() || tokens->size() == kMaxTokens) return false;
    tokens->push_back(token);
    if (space == std::string_view::npos) return true;
    start = space + 1;
  }
}

bool ParseDurationMs(std::string_view token, int64_t* out) {
  if (token.empty() || token.size() > 12) return false;
  int64_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > kMaxFleetBlockMs) return false;
  *out = value;
  return true;
}

}  // namespace

bool ValidFleetInstanceId(std::string_view id) { return ValidInstanceChars(id); }

std::string_view FleetScopeToken(BlockScope scope) {
  return scope == BlockScope::kSubnet ? "subnet" : "address";
}

std::string_view FleetCauseToken(BlockCause cause) {
  switch (cause) {
    case BlockCause::kAddressFailures: return "address_failures";
    case BlockCause::kSpraying: return "spraying";
    case BlockCause::kSubnetFailures: return "subnet_failures";
    case BlockCause::kOperator: return "operator";
  }
  return "operator";
}

bool ParseFleetScope(std::string_view token, BlockScope* out) {
  if (token == "address") { *out = BlockScope::kAddress; return true; }
  if (token == "subnet") { *out = BlockScope::kSubnet; return true; }
  return false;
}

bool ParseFleetCause(std::string_view token, BlockCause* out) {
  for (BlockCause c : {BlockCause::kAddressFailures, BlockCause::kSpraying, BlockCause::kSubnetFailures,
                       BlockCause::kOperator}) {
    if (token == FleetCauseToken(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

std::string EscapeFleetToken(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x21 || c > 0x7e || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

bool UnescapeFleetToken(std::string_view token, size_t max_bytes, std::string* out) {
  out->clear();
  for (size_t i = 0; i < token.size(); ++i) {
    const auto c = static_cast<unsigned char>(token[i]);
    if (c < 0x21 || c > 0x7e) return false;
    if (c == '%') {
      if (i + 2 >= token.size()) return false;
      const int hi = HexValue(token[i + 1]);
      const int lo = HexValue(token[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(static_cast<char>(c));
    }
    if (out->size() > max_bytes) return false;
  }
  return true;
}

std::optional<std::string> EncodeFleetEvent(const FleetEvent& event) {
  if (!ValidFleetInstanceId(event.instance)) return std::nullopt;
  std::string line;
  line.append(kVersion).append(" ").append(event.instance).append(" ");
  switch (event.kind) {
    case FleetEventKind::kBlock:
    case FleetEventKind::kUnblock: {
      if (event.key.empty() || event.key.size() > kMaxFleetKeyBytes) return std::nullopt;
      if (event.kind == FleetEventKind::kBlock) {
        const int64_t ms = event.duration.count();
        if (ms < 1 || ms > kMaxFleetBlockMs) return std::nullopt;
        line.append("block ").append(FleetScopeToken(event.scope)).append(" ");
        line.append(FleetCauseToken(event.cause)).append(" ").append(std::to_string(ms));
      } else {
        line.append("unblock ").append(FleetScopeToken(event.scope));
      }
      line.append(" ").append(EscapeFleetToken(event.key));
      break;
    }
    case FleetEventKind::kKick:
    case FleetEventKind::kMove:
      if (event.user.empty() || event.user.size() > kMaxFleetUserBytes) return std::nullopt;
      line.append(event.kind == FleetEventKind::kKick ? "kick " : "move ");
      line.append(EscapeFleetToken(event.user));
      if (event.kind == FleetEventKind::kMove) {
        if (event.shard.empty() || event.shard.size() > kMaxFleetShardBytes) return std::nullopt;
        line.append(" ").append(EscapeFleetToken(event.shard));
      }
      break;
  }
  if (line.size() > kMaxFleetLineBytes) return std::nullopt;
  return line;
}

FleetDecode DecodeFleetEvent(std::string_view line, FleetEvent* out) {
  if (line.empty() || line.size() > kMaxFleetLineBytes) return FleetDecode::kInvalid;
  std::vector<std::string_view> t;
  t.reserve(kMaxTokens);
  if (!Split(line, &t)) return FleetDecode::kInvalid;
  if (t.size() < 3) return FleetDecode::kInvalid;
  if (t[0] != kVersion) return FleetDecode::kIgnored;
  if (!ValidFleetInstanceId(t[1])) return FleetDecode::kInvalid;
  FleetEvent e;
  e.instance = std::string(t[1]);
  const std::string_view kind = t[2];
  if (kind == "block") {
    int64_t ms = 0;
    if (t.size() != 7 || !ParseFleetScope(t[3], &e.scope) || !ParseFleetCause(t[4], &e.cause) ||
        !ParseDurationMs(t[5], &ms) || !UnescapeFleetToken(t[6], kMaxFleetKeyBytes, &e.key) ||
        e.key.empty()) {
      return FleetDecode::kInvalid;
    }
    e.kind = FleetEventKind::kBlock;
    e.duration = std::chrono::milliseconds(ms);
  } else if (kind == "unblock") {
    if (t.size() != 5 || !ParseFleetScope(t[3], &e.scope) ||
        !UnescapeFleetToken(t[4], kMaxFleetKeyBytes, &e.key) || e.key.empty()) {
      return FleetDecode::kInvalid;
    }
    e.kind = FleetEventKind::kUnblock;
  } else if (kind == "kick") {
    if (t.size() != 4 || !UnescapeFleetToken(t[3], kMaxFleetUserBytes, &e.user) || e.user.empty()) {
      return FleetDecode::kInvalid;
    }
    e.kind = FleetEventKind::kKick;
  } else if (kind == "move") {
    if (t.size() != 5 || !UnescapeFleetToken(t[3], kMaxFleetUserBytes, &e.user) || e.user.empty() ||
        !UnescapeFleetToken(t[4], kMaxFleetShardBytes, &e.shard) || e.shard.empty()) {
      return FleetDecode::kInvalid;
    }
    e.kind = FleetEventKind::kMove;
  } else {
    return FleetDecode::kIgnored;
  }
  *out = std::move(e);
  return FleetDecode::kOk;
}

std::optional<std::string> EncodeBlockValue(BlockScope scope, BlockCause cause, std::string_view key) {
  if (key.empty() || key.size() > kMaxFleetKeyBytes) return std::nullopt;
  std::string value;
  value.append(FleetScopeToken(scope)).append(" ").append(FleetCauseToken(cause)).append(" ");
  value.append(EscapeFleetToken(key));
  return value;
}

bool DecodeBlockValue(std::string_view value, BlockScope* scope, BlockCause* cause, std::string* key) {
  if (value.size() > kMaxFleetLineBytes) return false;
  std::vector<std::string_view> t;
  if (!Split(value, &t) || t.size() != 3) return false;
  return ParseFleetScope(t[0], scope) && ParseFleetCause(t[1], cause) &&
         UnescapeFleetToken(t[2], kMaxFleetKeyBytes, key) && !key->empty();
}

}  // namespace imapgate::ratelimit
