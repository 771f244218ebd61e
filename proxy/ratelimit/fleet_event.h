// FleetEvent: one message of the fleet bus (block, unblock, kick, move) and its line codec, also
// used for the value of a block key in Redis.
//
// Wire form: one line of space-separated tokens, `v1 <instance> <kind> <fields...>`:
//   v1 <instance> block <scope> <cause> <duration_ms> <key>
//   v1 <instance> unblock <scope> <key>
//   v1 <instance> kick <user>
//   v1 <instance> move <user> <shard>
// Free text (key, user, shard) is escaped: every byte outside 0x21..0x7e, and '%', becomes %XX,
// so no field can hold a space or a line break. Every field is bounded (see the constants) and
// validated on decode; a line of another version or an unknown kind decodes as kIgnored, so a
// newer instance can add kinds without older ones failing. Pure: no I/O, no clock, no state;
// thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ratelimit/policy.h"

namespace imapgate::ratelimit {

inline constexpr size_t kMaxFleetLineBytes = 2048;       // an encoded line
inline constexpr size_t kMaxFleetInstanceBytes = 64;     // [A-Za-z0-9._-]+
inline constexpr size_t kMaxFleetKeyBytes = 64;          // an address or subnet text (unescaped)
inline constexpr size_t kMaxFleetUserBytes = 256;        // a normalized user name (unescaped)
inline constexpr size_t kMaxFleetShardBytes = 64;        // a shard name (unescaped)
inline constexpr int64_t kMaxFleetBlockMs = 366LL * 24 * 3600 * 1000;  // a block's duration

// True for a valid instance id: [A-Za-z0-9._-]{1,kMaxFleetInstanceBytes}.
bool ValidFleetInstanceId(std::string_view id);

enum class FleetEventKind : uint8_t { kBlock, kUnblock, kKick, kMove };

struct FleetEvent {
  FleetEventKind kind = FleetEventKind::kBlock;
  std::string instance;  // the sender's instance id
  // kBlock, kUnblock:
  BlockScope scope = BlockScope::kAddress;
  std::string key;  // the address or subnet text
  BlockCause cause = BlockCause::kOperator;    // kBlock
  std::chrono::milliseconds duration{0};       // kBlock: 1 .. kMaxFleetBlockMs
  // kKick, kMove:
  std::string user;
  std::string shard;  // kMove
};

// The line for `event` (no line break), or nullopt if a field is out of its bounds (empty
// instance, key or user; a bad instance character; a duration out of range; a field too long).
std::optional<std::string> EncodeFleetEvent(const FleetEvent& event);

enum class FleetDecode : uint8_t { kOk, kIgnored, kInvalid };
// Decodes one line into *out (left unspecified unless kOk). kIgnored: another version or an
// unknown kind (not an error); kInvalid: anything malformed or out of bounds.
FleetDecode DecodeFleetEvent(std::string_view line, FleetEvent* out);

// The wire tokens of a scope and a cause ("address", "subnet"; "address_failures", "spraying",
// "subnet_failures", "operator") and their parsers (false on an unknown token).
std::string_view FleetScopeToken(BlockScope scope);
std::string_view FleetCauseToken(BlockCause cause);
bool ParseFleetScope(std::string_view token, BlockScope* out);
bool ParseFleetCause(std::string_view token, BlockCause* out);

// Escapes free text into one token (see above); UnescapeFleetToken is its inverse and fails on a
// malformed escape, a byte outside 0x21..0x7e, or a result longer than `max_bytes`.
std::string EscapeFleetToken(std::string_view text);
bool UnescapeFleetToken(std::string_view token, size_t max_bytes, std::string* out);

// The value RedisStore keeps under a block key: `<scope> <cause> <escaped key>`; nullopt when the
// key is empty or longer than kMaxFleetKeyBytes.
std::optional<std::string> EncodeBlockValue(BlockScope scope, BlockCause cause, std::string_view key);
bool DecodeBlockValue(std::string_view value, BlockScope* scope, BlockCause* cause, std::string* key);

}  // namespace imapgate::ratelimit
