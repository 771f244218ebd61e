// RunStats: what one loadgen thread measured; merged across threads for the report.
#pragma once

#include <array>
#include <cstdint>

#include "bench/loadgen/latency_recorder.h"

namespace imapgate::bench {

// Why a session failed. Every failed session is counted under exactly one reason.
enum class FailReason {
  kConnect,
  kTls,
  kGreeting,
  kLogin,
  kSelect,
  kIdle,
  kFetch,
  kTimeout,
  kProtocol,
  kCount
};
const char* FailReasonName(FailReason reason);

struct RunStats {
  uint64_t ok = 0;
  std::array<uint64_t, static_cast<size_t>(FailReason::kCount)> failures{};
  uint64_t held = 0;         // idle: sessions that reached "+ idling"
  uint64_t selected = 0;     // sessions whose SELECT INBOX was answered OK
  uint64_t resumed = 0;      // TLS handshakes that resumed a session
  uint64_t ops = 0;          // fetch/noop: completed round trips
  uint64_t fetch_bytes = 0;  // fetch: literal payload bytes
  LatencyRecorder latency;

  uint64_t failed() const;
  void Fail(FailReason reason, uint64_t n = 1) { failures[static_cast<size_t>(reason)] += n; }
  // Adds other's counters and samples into this.
  void Merge(const RunStats& other);
};

}  // namespace imapgate::bench
