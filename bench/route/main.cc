// imapgate-route-bench: the router's decision time for a large shard map (default 100 shards).
//
// Builds a Router with --shards shards (weights 1..4), --overrides override entries and a
// domain rule, then times Route() over --users synthetic names that take the hash path (the
// slow one: one score per shard), in --rounds rounds. Each round also times a plain hash
// (StableHash, the SipHash-2-4 the router applies once per name) of the same names, right
// after, so that the ratio route/hash is meaningful on a busy machine where the absolute
// nanoseconds are not. Prints the median round of each and their ratio; exit status 2 on a
// usage error, 1 if the router cannot be built.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "route/hash.h"
#include "route/router.h"

namespace {

using Clock = std::chrono::steady_clock;
using imapgate::route::Router;
using imapgate::route::RouterSpec;

struct Options {
  int shards = 100;
  int users = 100000;
  int rounds = 9;
  int overrides = 1000;
};

bool ParseInt(const char* text, int min, int max, int* out) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < min || value > max) return false;
  *out = static_cast<int>(value);
  return true;
}

int Usage() {
  std::fprintf(stderr,
               "usage: imapgate-route-bench [--shards N (1..1000, default 100)] [--users N "
               "(default 100000)]\n                            [--rounds N (default 9)] "
               "[--overrides N (default 1000)]\n");
  return 2;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    int* target = nullptr;
    int min = 1, max = 10'000'000;
    if (std::strcmp(argv[i], "--shards") == 0) {
      target = &o.shards;
      max = 1000;
    } else if (std::strcmp(argv[i], "--users") == 0) {
      target = &o.users;
    } else if (std::strcmp(argv[i], "--rounds") == 0) {
      target = &o.rounds;
      max = 1000;
    } else if (std::strcmp(argv[i], "--overrides") == 0) {
      target = &o.overrides;
      min = 0;
      max = 100000;
    } else {
      return Usage();
    }
    if (!has_value || !ParseInt(argv[++i], min, max, target)) return Usage();
  }

  RouterSpec spec;
  for (int i = 0; i < o.shards; ++i) {
    spec.shards.push_back({"shard-" + std::to_string(i), static_cast<uint32_t>(1 + i % 4)});
  }
  spec.default_domain = "example.com";
  for (int i = 0; i < o.overrides; ++i) {
    spec.overrides.emplace("moved" + std::to_string(i) + "@example.com",
                           spec.shards[i % o.shards].name);
  }
  spec.domains.emplace("corp.example", spec.shards[0].name);
  auto router = Router::Create(spec);
  if (!router.ok()) {
    std::fprintf(stderr, "imapgate-route-bench: %s\n", router.status().message().c_str());
    return 1;
  }
  // Mixed case, as clients send them; none is overridden or under a domain rule.
  std::vector<std::string> users;
  users.reserve(o.users);
  for (int i = 0; i < o.users; ++i) {
    users.push_back("User." + std::to_string(i) + "@Example" + std::to_string(i % 50) + ".TEST");
  }

  std::vector<double> route_ns, hash_ns;
  uint64_t sink = 0;
  for (int round = 0; round < o.rounds; ++round) {
    auto start = Clock::now();
    for (const std::string& user : users) sink += (*router)->Route(user).shard;
    auto mid = Clock::now();
    for (const std::string& user : users) sink += imapgate::route::StableHash(user);
    auto end = Clock::now();
    route_ns.push_back(std::chrono::duration<double, std::nano>(mid - start).count() / o.users);
    hash_ns.push_back(std::chrono::duration<double, std::nano>(end - mid).count() / o.users);
  }
  const double route = Median(route_ns), hash = Median(hash_ns);
  std::printf("imapgate-route-bench: %d shards (weights 1..4), %d overrides, %d users on the hash "
              "path, median of %d rounds\n",
              o.shards, o.overrides, o.users, o.rounds);
  std::printf("route_ns_per_decision %.1f\n", route);
  std::printf("plain_hash_ns_per_name %.1f\n", hash);
  std::printf("ratio_route_to_hash %.1f\n", route / hash);
  std::printf("(checksum %llu)\n", static_cast<unsigned long long>(sink));
  return 0;
}
