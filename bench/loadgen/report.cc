#include "bench/loadgen/report.h"

#include <cstdio>

namespace imapgate::bench {
namespace {

struct Rates {
  double per_s = 0;       // sessions_per_s
  double cpu_us_per = 0;  // client_cpu_us_per_session
  double fetch_mb_per_s = 0;
};

Rates ComputeRates(const Options& o, const RunStats& s, const RunTimes& t) {
  Rates r;
  double units = 0, seconds = t.elapsed_s;
  switch (o.mode) {
    case Mode::kLogin:
    case Mode::kHandshake:
      units = static_cast<double>(s.ok);
      break;
    case Mode::kIdle:
      units = static_cast<double>(s.held);
      seconds = t.open_s;
      break;
    case Mode::kFetch:
    case Mode::kNoop:
      units = static_cast<double>(s.ops);
      break;
  }
  if (seconds > 0) r.per_s = units / seconds;
  if (units > 0) r.cpu_us_per = t.cpu_s * 1e6 / units;
  if (t.elapsed_s > 0) r.fetch_mb_per_s = static_cast<double>(s.fetch_bytes) / 1e6 / t.elapsed_s;
  return r;
}

void Append(std::string* out, const char* fmt, auto... args) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) out->append(buf, static_cast<size_t>(n) < sizeof buf ? n : sizeof buf - 1);
}

// Hosts are validated IP literals, so no JSON escaping is needed.
std::string Target(const Options& o) {
  return o.host.find(':') != std::string::npos ? "[" + o.host + "]:" + std::to_string(o.port)
                                               : o.host + ":" + std::to_string(o.port);
}

}  // namespace

std::string FormatJson(const Options& o, const RunStats& s, const RunTimes& t) {
  Rates r = ComputeRates(o, s, t);
  LatencySummary l = s.latency.Summarize();
  std::string out = "{";
  Append(&out, "\"mode\":\"%s\",\"target\":\"%s\",\"tls\":\"%s\",", ModeName(o.mode),
         Target(o).c_str(), TlsModeName(o.tls));
  Append(&out, "\"threads\":%d,\"concurrency\":%d,\"resume\":%s,\"tls_max\":\"%s\",", o.threads,
         o.concurrency, o.resume ? "true" : "false", o.tls12 ? "1.2" : "1.3");
  Append(&out, "\"ok\":%llu,\"failed\":%llu,\"failures\":{", (unsigned long long)s.ok,
         (unsigned long long)s.failed());
  bool first = true;
  for (size_t i = 0; i < s.failures.size(); ++i) {
    if (s.failures[i] == 0) continue;
    Append(&out, "%s\"%s\":%llu", first ? "" : ",", FailReasonName(static_cast<FailReason>(i)),
           (unsigned long long)s.failures[i]);
    first = false;
  }
  Append(&out, "},\"elapsed_s\":%.6f,\"sessions_per_s\":%.2f,", t.elapsed_s, r.per_s);
  Append(&out, "\"latency_us\":{\"count\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,",
         (unsigned long long)l.count, (unsigned long long)l.p50, (unsigned long long)l.p90,
         (unsigned long long)l.p99);
  Append(&out, "\"max\":%llu,\"mean\":%.1f},", (unsigned long long)l.max, l.mean);
  Append(&out, "\"selected\":%llu,", (unsigned long long)s.selected);
  Append(&out, "\"held\":%llu,\"open_s\":%.6f,\"ops\":%llu,\"ops_per_s\":%.2f,",
         (unsigned long long)s.held, t.open_s, (unsigned long long)s.ops,
         t.elapsed_s > 0 ? static_cast<double>(s.ops) / t.elapsed_s : 0.0);
  Append(&out, "\"fetch_bytes\":%llu,\"fetch_mb_per_s\":%.3f,", (unsigned long long)s.fetch_bytes,
         r.fetch_mb_per_s);
  Append(&out, "\"client_cpu_s\":%.6f,\"client_cpu_us_per_session\":%.1f,\"resumed\":%llu}",
         t.cpu_s, r.cpu_us_per, (unsigned long long)s.resumed);
  return out;
}

std::string FormatText(const Options& o, const RunStats& s, const RunTimes& t) {
  Rates r = ComputeRates(o, s, t);
  LatencySummary l = s.latency.Summarize();
  std::string out;
  Append(&out, "mode %s target %s tls %s: ok %llu failed %llu", ModeName(o.mode), Target(o).c_str(),
         TlsModeName(o.tls), (unsigned long long)s.ok, (unsigned long long)s.failed());
  for (size_t i = 0; i < s.failures.size(); ++i) {
    if (s.failures[i] != 0) {
      Append(&out, " %s=%llu", FailReasonName(static_cast<FailReason>(i)),
             (unsigned long long)s.failures[i]);
    }
  }
  Append(&out, "\nelapsed %.3f s, %.1f %s/s, client CPU %.3f s (%.1f us each), resumed %llu\n",
         t.elapsed_s, r.per_s, o.mode == Mode::kFetch || o.mode == Mode::kNoop ? "ops" : "sessions",
         t.cpu_s, r.cpu_us_per, (unsigned long long)s.resumed);
  Append(&out, "latency us: p50 %llu p90 %llu p99 %llu max %llu mean %.1f (n=%llu)\n",
         (unsigned long long)l.p50, (unsigned long long)l.p90, (unsigned long long)l.p99,
         (unsigned long long)l.max, l.mean, (unsigned long long)l.count);
  if (o.mode == Mode::kIdle)
    Append(&out, "held %llu (opened in %.3f s)\n", (unsigned long long)s.held, t.open_s);
  if (o.mode == Mode::kFetch)
    Append(&out, "fetched %llu bytes, %.2f MB/s\n", (unsigned long long)s.fetch_bytes,
           r.fetch_mb_per_s);
  return out;
}

}  // namespace imapgate::bench
