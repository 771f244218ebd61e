// Fuzz target for the fleet bus's line codec (ratelimit/fleet_event.h), which reads what any
// process able to PUBLISH on the Redis channel wrote, and the block values read back from Redis.
// Checks, beyond "no crash":
//  - a line that decodes has every field within its bounds, encodes again, and the encoding
//    decodes to the same event (and is itself a fixed point);
//  - a block value that decodes encodes to a value that decodes to the same fields;
//  - escaping any text gives one token of printable bytes that unescapes to the text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ratelimit/fleet_event.h"

namespace rl = imapgate::ratelimit;

namespace {

void Check(bool ok) {
  if (!ok) abort();
}

bool Same(const rl::FleetEvent& a, const rl::FleetEvent& b) {
  if (a.kind != b.kind || a.instance != b.instance) return false;
  switch (a.kind) {
    case rl::FleetEventKind::kBlock:
      return a.scope == b.scope && a.cause == b.cause && a.duration == b.duration && a.key == b.key;
    case rl::FleetEventKind::kUnblock:
      return a.scope == b.scope && a.key == b.key;
    case rl::FleetEventKind::kKick:
      return a.user == b.user;
    case rl::FleetEventKind::kMove:
      return a.user == b.user && a.shard == b.shard;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  rl::FleetEvent event;
  if (rl::DecodeFleetEvent(text, &event) == rl::FleetDecode::kOk) {
    Check(rl::ValidFleetInstanceId(event.instance));
    Check(event.key.size() <= rl::kMaxFleetKeyBytes && event.user.size() <= rl::kMaxFleetUserBytes &&
          event.shard.size() <= rl::kMaxFleetShardBytes);
    const auto line = rl::EncodeFleetEvent(event);
    Check(line.has_value() && line->size() <= rl::kMaxFleetLineBytes);
    rl::FleetEvent again;
    Check(rl::DecodeFleetEvent(*line, &again) == rl::FleetDecode::kOk && Same(event, again));
    Check(rl::EncodeFleetEvent(again) == line);
  }

  rl::BlockScope scope;
  rl::BlockCause cause;
  std::string key;
  if (rl::DecodeBlockValue(text, &scope, &cause, &key)) {
    const auto value = rl::EncodeBlockValue(scope, cause, key);
    Check(value.has_value());
    rl::BlockScope scope2;
    rl::BlockCause cause2;
    std::string key2;
    Check(rl::DecodeBlockValue(*value, &scope2, &cause2, &key2) && scope2 == scope && cause2 == cause && key2 == key);
  }

  const std::string token = rl::EscapeFleetToken(text);
  for (char c : token) Check(c >= 0x21 && c <= 0x7e);
  std::string back;
  Check(rl::UnescapeFleetToken(token, size, &back) && back == text);
  return 0;
}
