// imapgate-hash-rate: password verifications per second on one core, for each scheme at the
// default cost of auth::HashPassword. This is the capacity of one auth worker thread: a login
// costs one verification (a cache miss), so N cores give about N times the figure.
//
//   imapgate-hash-rate [--min-seconds S] [--json]
//
// Each scheme: one hash is made, then VerifyPassword runs on this thread until at least
// S seconds (default 2) and 3 verifications have passed. Prints a table, or JSON with --json.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "auth/password_hash.h"

namespace {

using imapgate::auth::HashScheme;

struct Result {
  HashScheme scheme;
  std::string setting;  // the cost part of the hash, e.g. "m=65536,t=3,p=1"
  int verifications = 0;
  double seconds = 0;
};

// The cost parameters of a stored hash, without its salt and digest.
std::string CostOf(HashScheme scheme, const std::string& encoded) {
  switch (scheme) {
    case HashScheme::kYescrypt: return "params " + encoded.substr(3, 3);
    case HashScheme::kBcrypt: return "cost " + encoded.substr(4, 2);
    case HashScheme::kSha512Crypt: return "rounds 5000";
    case HashScheme::kArgon2id:
    case HashScheme::kArgon2i: {
      const size_t start = encoded.find("$m=") + 1;
      return encoded.substr(start, encoded.find('$', start) - start);
    }
    case HashScheme::kSha256: return "1 pass";
  }
  return "";
}

void Usage() {
  std::fprintf(stderr, "usage: imapgate-hash-rate [--min-seconds S] [--json]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  double min_seconds = 2.0;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (std::strcmp(argv[i], "--min-seconds") == 0 && i + 1 < argc) {
      min_seconds = std::atof(argv[++i]);
      if (min_seconds <= 0 || min_seconds > 600) Usage();
    } else {
      Usage();
    }
  }
  const HashScheme schemes[] = {HashScheme::kArgon2id, HashScheme::kArgon2i, HashScheme::kYescrypt,
                                HashScheme::kBcrypt, HashScheme::kSha512Crypt, HashScheme::kSha256};
  const std::string password = "correct horse battery staple";
  std::vector<Result> results;
  for (HashScheme scheme : schemes) {
    auto stored = imapgate::auth::HashPassword(scheme, password);
    if (!stored.ok()) {
      std::fprintf(stderr, "%s: %s\n", std::string(imapgate::auth::HashSchemeName(scheme)).c_str(),
                   stored.status().message().c_str());
      return 1;
    }
    auto hash = imapgate::auth::ParsePasswordHash(*stored);
    if (!hash.ok()) {
      std::fprintf(stderr, "cannot parse a fresh hash: %s\n", hash.status().message().c_str());
      return 1;
    }
    Result r{scheme, CostOf(scheme, hash->encoded)};
    const auto start = std::chrono::steady_clock::now();
    do {
      if (!imapgate::auth::VerifyPassword(*hash, password)) {
        std::fprintf(stderr, "verification failed\n");
        return 1;
      }
      ++r.verifications;
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (r.seconds < min_seconds || r.verifications < 3);
    results.push_back(r);
  }
  if (json) {
    std::printf("{\"min_seconds\": %g, \"schemes\": [", min_seconds);
    for (size_t i = 0; i < results.size(); ++i) {
      const Result& r = results[i];
      std::printf("%s\n  {\"scheme\": \"%s\", \"cost\": \"%s\", \"verifications\": %d, "
                  "\"seconds\": %.3f, \"per_second_per_core\": %.2f, \"us_per_hash\": %.3f}",
                  i ? "," : "", std::string(imapgate::auth::HashSchemeName(r.scheme)).c_str(),
                  r.setting.c_str(), r.verifications, r.seconds, r.verifications / r.seconds,
                  1e6 * r.seconds / r.verifications);
    }
    std::printf("\n]}\n");
  } else {
    std::printf("%-14s %-18s %8s %12s %14s\n", "scheme", "cost", "verifies", "us/hash", "hashes/s/core");
    for (const Result& r : results) {
      std::printf("%-14s %-18s %8d %12.3f %14.1f\n",
                  std::string(imapgate::auth::HashSchemeName(r.scheme)).c_str(), r.setting.c_str(),
                  r.verifications, 1e6 * r.seconds / r.verifications, r.verifications / r.seconds);
    }
  }
  return 0;
}
