#include "bench/loadgen/stats.h"

namespace imapgate::bench {

const char* FailReasonName(FailReason reason) {
  switch (reason) {
    case FailReason::kConnect:
      return "connect";
    case FailReason::kTls:
      return "tls";
    case FailReason::kGreeting:
      return "greeting";
    case FailReason::kLogin:
      return "login";
    case FailReason::kSelect:
      return "select";
    case FailReason::kIdle:
      return "idle";
    case FailReason::kFetch:
      return "fetch";
    case FailReason::kTimeout:
      return "timeout";
    case FailReason::kProtocol:
      return "protocol";
    case FailReason::kCount:
      break;
  }
  return "?";
}

uint64_t RunStats::failed() const {
  uint64_t n = 0;
  for (uint64_t f : failures) n += f;
  return n;
}

void RunStats::Merge(const RunStats& other) {
  ok += other.ok;
  for (size_t i = 0; i < failures.size(); ++i) failures[i] += other.failures[i];
  held += other.held;
  selected += other.selected;
  resumed += other.resumed;
  ops += other.ops;
  fetch_bytes += other.fetch_bytes;
  latency.Merge(other.latency);
}

}  // namespace imapgate::bench
