#include "bench/loadgen/latency_recorder.h"

#include <algorithm>
#include <cmath>

namespace imapgate::bench {

uint64_t Percentile(const std::vector<uint64_t>& sorted, double pct) {
  if (sorted.empty()) return 0;
  // Nearest rank: the smallest value with at least pct% of the samples at or below it.
  double rank = std::ceil(pct / 100.0 * static_cast<double>(sorted.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  if (index >= sorted.size()) index = sorted.size() - 1;
  return sorted[index];
}

void LatencyRecorder::Merge(const LatencyRecorder& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
}

LatencySummary LatencyRecorder::Summarize() const {
  LatencySummary s;
  if (samples_.empty()) return s;
  std::vector<uint64_t> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  s.count = sorted.size();
  s.p50 = Percentile(sorted, 50);
  s.p90 = Percentile(sorted, 90);
  s.p99 = Percentile(sorted, 99);
  s.max = sorted.back();
  long double sum = 0;
  for (uint64_t v : sorted) sum += v;
  s.mean = static_cast<double>(sum / sorted.size());
  return s;
}

}  // namespace imapgate::bench
