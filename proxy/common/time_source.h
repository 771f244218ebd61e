// TimeSource: the only way code reads the clock, so tests can drive time by hand.
//
// RealTimeSource reads CLOCK_MONOTONIC and the wall clock; ManualTimeSource returns what the test
// set. Implementations are thread-safe for reads.
#pragma once

#include <atomic>
#include <chrono>

namespace imapgate {

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  // Monotonic time, for durations and deadlines.
  virtual std::chrono::steady_clock::time_point MonotonicNow() const = 0;
  // Wall-clock time, for log timestamps.
  virtual std::chrono::system_clock::time_point WallNow() const = 0;
};

class RealTimeSource final : public TimeSource {
 public:
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::now();
  }
  // A process-wide instance.
  static const RealTimeSource& Get();
};

class ManualTimeSource final : public TimeSource {
 public:
  std::chrono::steady_clock::time_point MonotonicNow() const override {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(now_ns_.load()));
  }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(now_ns_.load())));
  }
  void Advance(std::chrono::nanoseconds d) { now_ns_ += d.count(); }

 private:
  std::atomic<int64_t> now_ns_{1'000'000'000};
};

}  // namespace imapgate
