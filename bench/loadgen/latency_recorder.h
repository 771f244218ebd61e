// LatencyRecorder: collects per-operation latencies (microseconds) and summarizes them.
//
// Exact: every sample is kept in a vector (8 bytes each; 200k samples = 1.6 MB), and Summarize()
// sorts a copy and reads nearest-rank percentiles. Pure, no clock: the caller measures. One
// recorder per loadgen thread; Merge() combines them at the end. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace imapgate::bench {

// Percentiles and moments of a set of latencies, in microseconds. All zero when empty.
struct LatencySummary {
  uint64_t count = 0;
  uint64_t p50 = 0;
  uint64_t p90 = 0;
  uint64_t p99 = 0;
  uint64_t max = 0;
  double mean = 0;
};

class LatencyRecorder {
 public:
  // Reserves room for `expected` samples so recording never reallocates on the hot path.
  void Reserve(size_t expected) { samples_.reserve(expected); }
  void Record(uint64_t micros) { samples_.push_back(micros); }
  // Appends every sample of `other`.
  void Merge(const LatencyRecorder& other);
  size_t count() const { return samples_.size(); }
  LatencySummary Summarize() const;

 private:
  std::vector<uint64_t> samples_;
};

// Nearest-rank percentile (0 < pct <= 100) of an ascending vector; 0 when empty.
uint64_t Percentile(const std::vector<uint64_t>& sorted, double pct);

}  // namespace imapgate::bench
