// Fuzz target for the routing override file (config/overrides.h) and the router built from it:
// arbitrary text yields a map or "FILE:LINE:COL: message" errors, never a crash; every entry of
// a map names a known shard under a normalized name, and the router sends that user there.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/overrides.h"
#include "route/router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::string> kShards = {"shard-a", "shard-b", "c"};
  const std::string file = "/fuzz/overrides";
  auto result = imapgate::config::ParseOverrides(text, file, kShards, "example.com");
  if (!result.ok()) {
    if (result.status().message().rfind(file + ":", 0) != 0) abort();  // names the file first
    return 0;
  }
  if (result->size() > imapgate::config::kMaxOverrideEntries) abort();
  imapgate::route::RouterSpec spec;
  for (const std::string& shard : kShards) spec.shards.push_back({shard, 1});
  spec.default_domain = "example.com";
  for (const auto& [user, shard] : *result) {
    if (user.empty() || user.size() > imapgate::route::kMaxUserBytes) abort();
    for (char c : user) {
      if (c >= 'A' && c <= 'Z') abort();  // normalized: lowercase
    }
    spec.overrides.emplace(user, shard);
  }
  auto router = imapgate::route::Router::Create(spec);
  if (!router.ok()) abort();  // a parsed file always builds a router
  for (const auto& [user, shard] : *result) {
    const imapgate::route::RouteDecision d = (*router)->Route(user);
    if (!d.ok() || d.source != imapgate::route::RouteSource::kOverride) abort();
    if ((*router)->shards()[d.shard].name != shard) abort();
  }
  return 0;
}
