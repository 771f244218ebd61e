// Report: turns the merged RunStats of a run into the human summary and the one-line JSON.
//
// Pure (no clock, no I/O): the caller passes the measured wall time and CPU time. Rates are per
// session for login/handshake, per held session for idle (over the time to hold them all) and
// per round trip for fetch/noop (over the measured phase, after every session is warm).
#pragma once

#include <string>

#include "bench/loadgen/options.h"
#include "bench/loadgen/stats.h"

namespace imapgate::bench {

struct RunTimes {
  double elapsed_s = 0;  // the measured phase (see above)
  double open_s = 0;     // idle: time until every session was held (or failed)
  double cpu_s = 0;      // getrusage(RUSAGE_SELF) user+system over the measured phase
};

// One JSON object, no newline.
std::string FormatJson(const Options& opts, const RunStats& stats, const RunTimes& times);
// A few human-readable lines.
std::string FormatText(const Options& opts, const RunStats& stats, const RunTimes& times);

}  // namespace imapgate::bench
