// imapgate-bench-ratelimit: issue C's in-process abuse store at 1,000,000 keys.
//
// Fills a MemoryStore (default options, max_keys = --keys) with failed logins from distinct
// addresses until every shard is full, then prints one JSON object with:
//   - the memory: MemoryBytes() and the process's RSS growth (Linux /proc/self/statm), each per
//     key and as a ratio to the stated bound (100 bytes per window; also MemoryBound());
//   - the cost of a window update: RecordFailure on the full store (6 window updates: address,
//     subnet, user, (user, address), global, users tried; new addresses, so it also evicts) and a
//     raw SlidingWindow::Add, in ns per op, the median of --rounds rounds, each as a ratio to the
//     issue's 1 µs.
// Exit status 2 on a usage error.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <ctime>
#include <vector>

#include <unistd.h>

#include "common/time_source.h"
#include "ratelimit/memory_store.h"
#include "ratelimit/window.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace imapgate::ratelimit;

constexpr double kBoundBytesPerKey = 100;  // MemoryStore's stated bound (memory_store_test.cc)
constexpr double kUpdateLimitNs = 1000;    // "a window update costs under 1 µs"

size_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

LoginKeys KeysFor(uint32_t i) {
  LoginKeys k;
  k.address = std::to_string(10 + (i >> 24)) + "." + std::to_string((i >> 16) & 255) + "." +
              std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
  k.subnet = k.address.substr(0, k.address.rfind('.')) + ".0/24";
  k.user = "user" + std::to_string(i % 5000) + "@demo.test";
  return k;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// This thread's CPU time in ns: on a shared machine, what the work cost without the time other
// processes held the core.
double CpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

double NsPerOp(Clock::time_point start, Clock::time_point end, size_t ops) {
  return std::chrono::duration<double, std::nano>(end - start).count() / static_cast<double>(ops);
}

bool ParseSize(const char* text, size_t min, size_t max, size_t* out) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v < min || v > max) return false;
  *out = static_cast<size_t>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t keys = 1'000'000;
  size_t rounds = 9;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--keys" && i + 1 < argc && ParseSize(argv[i + 1], 1000, 100'000'000, &keys)) {
      ++i;
    } else if (arg == "--rounds" && i + 1 < argc && ParseSize(argv[i + 1], 1, 1000, &rounds)) {
      ++i;
    } else {
      std::fprintf(stderr, "usage: imapgate-bench-ratelimit [--keys N (default 1000000)] "
                           "[--rounds N (default 9)]\n");
      return 2;
    }
  }

  imapgate::ManualTimeSource clock;
  Policy policy;
  MemoryStoreOptions options;
  options.max_keys = keys;

  const size_t rss_before = ResidentBytes();
  MemoryStore store(policy, options, &clock);
  // Each failure from a new address adds about 3 keys; 0.6 × keys failures fill every shard.
  uint32_t next = 0;
  const auto fill_start = Clock::now();
  for (size_t i = 0; i < keys * 6 / 10; ++i, ++next) {
    store.RecordFailure(KeysFor(next), FailureEvent{next + 1, (next % 5000) + 1}, nullptr);
  }
  const double fill_s = std::chrono::duration<double>(Clock::now() - fill_start).count();
  const size_t held = store.key_count();
  const size_t bytes = store.MemoryBytes();
  const size_t rss_growth = ResidentBytes() - rss_before;

  // RecordFailure on the full store: precomputed keys (no formatting in the timed loop).
  constexpr size_t kBatch = 100'000;
  std::vector<LoginKeys> batch;
  batch.reserve(kBatch);
  std::vector<double> record_ns;
  std::vector<double> record_cpu_ns;
  for (size_t r = 0; r < rounds; ++r) {
    batch.clear();
    const uint32_t first = next;
    for (size_t i = 0; i < kBatch; ++i) batch.push_back(KeysFor(next++));
    const double cpu_start = CpuNs();
    const auto start = Clock::now();
    for (size_t i = 0; i < kBatch; ++i) {
      const uint32_t n = first + static_cast<uint32_t>(i);
      store.RecordFailure(batch[i], FailureEvent{n + 1, (n % 5000) + 1}, nullptr);
    }
    record_ns.push_back(NsPerOp(start, Clock::now(), kBatch));
    record_cpu_ns.push_back((CpuNs() - cpu_start) / double(kBatch));
    clock.Advance(std::chrono::seconds(1));
  }

  // A raw SlidingWindow::Add over 4096 windows (out of cache lines' way), time advancing.
  constexpr size_t kWindows = 4096;
  constexpr size_t kAdds = 4'000'000;
  std::vector<SlidingWindow> windows(kWindows);
  std::vector<double> add_ns;
  std::vector<double> add_cpu_ns;
  uint64_t counted = 0;
  int64_t now_ms = 1'000'000'000;
  uint32_t fp = 1;
  for (size_t r = 0; r < rounds; ++r) {
    const double cpu_start = CpuNs();
    const auto start = Clock::now();
    for (size_t i = 0; i < kAdds; ++i) {
      fp = fp * 1664525u + 1013904223u;  // a new fingerprint each time (LCG)
      counted += windows[(i * 2654435761u) % kWindows].Add(policy.window, now_ms, fp | 1) ? 1 : 0;
      if ((i & 1023) == 0) now_ms += 997;  // the slots roll over now and then
    }
    add_ns.push_back(NsPerOp(start, Clock::now(), kAdds));
    add_cpu_ns.push_back((CpuNs() - cpu_start) / double(kAdds));
  }

  const double rf = Median(record_ns);
  const double add = Median(add_ns);
  const double rf_cpu = Median(record_cpu_ns);
  const double add_cpu = Median(add_cpu_ns);
  std::printf(
      "{\n"
      "  \"keys\": %zu,\n"
      "  \"keys_held\": %zu,\n"
      "  \"fill_seconds\": %.2f,\n"
      "  \"memory_bytes\": %zu,\n"
      "  \"memory_bytes_per_key\": %.1f,\n"
      "  \"rss_growth_bytes\": %zu,\n"
      "  \"rss_bytes_per_key\": %.1f,\n"
      "  \"bound_bytes_per_key\": %.0f,\n"
      "  \"memory_ratio_to_bound\": %.3f,\n"
      "  \"rss_ratio_to_bound\": %.3f,\n"
      "  \"memory_bound_bytes\": %zu,\n"
      "  \"record_failure_ns\": %.1f,\n"
      "  \"record_failure_window_updates\": 6,\n"
      "  \"record_failure_ns_per_window_update\": %.1f,\n"
      "  \"record_failure_ratio_to_1us\": %.3f,\n"
      "  \"record_failure_cpu_ns\": %.1f,\n"
      "  \"record_failure_cpu_ns_per_window_update\": %.1f,\n"
      "  \"window_update_cpu_ratio_to_1us\": %.3f,\n"
      "  \"window_update_ratio_to_1us\": %.3f,\n"
      "  \"window_add_ns\": %.1f,\n"
      "  \"window_add_ratio_to_1us\": %.3f,\n"
      "  \"window_add_cpu_ns\": %.1f,\n"
      "  \"rounds\": %zu,\n"
      "  \"checksum\": %llu\n"
      "}\n",
      keys, held, fill_s, bytes, double(bytes) / double(held), rss_growth,
      double(rss_growth) / double(held), kBoundBytesPerKey,
      double(bytes) / (double(keys) * kBoundBytesPerKey),
      double(rss_growth) / (double(keys) * kBoundBytesPerKey), MemoryStore::MemoryBound(options),
      rf, rf / 6, rf / kUpdateLimitNs, rf_cpu, rf_cpu / 6, rf_cpu / 6 / kUpdateLimitNs,
      rf / 6 / kUpdateLimitNs, add, add / kUpdateLimitNs, add_cpu, rounds,
      static_cast<unsigned long long>(counted));
  return 0;
}
