// HealthChecker: active health checks of every backend, on one event loop, feeding a
// health::BackendHealthTable.
//
// Per backend, every interval (jittered, so checks of several backends do not line up), a check
// reaches the backend as a login would — BackendConnector: connect, (TLS handshake), greeting,
// (STARTTLS, handshake, CAPABILITY) — then sends `H1 CAPABILITY` and waits for its tagged OK
// (on a STARTTLS link the connector's CAPABILITY over TLS already proved that), all within the
// check timeout. The result goes to the table (RecordCheck: rise and fall decide up and down)
// and to the optional result callback (metrics); then `H2 LOGOUT` is sent and the connection is
// closed on its answer, on EOF or at the check's deadline. A failure carries a reason
// (connect refused, timeout, bad greeting, TLS failure, ...) classified as a CheckOutcome.
//
// State changes are logged by the table's observer (once per change, with the reason), not per
// check; each failed check is logged at debug level only.
//
// The checker never blocks. It lives on one loop and everything here — Start, the destructor —
// runs on that loop's thread. The destructor cancels every check in flight (sockets closed,
// nothing reported afterwards); it must not run inside the result callback. The table, the
// loop, the time source and each target's TLS context must outlive the checker.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time_source.h"
#include "health/backend_health_table.h"
#include "net/event_loop.h"
#include "upstream/backend_connector.h"

namespace imapgate::upstream {

// How often and how long; rise and fall are the table's (health::HealthPolicy).
struct HealthCheckOptions {
  std::chrono::milliseconds interval{5000};  // between the end of one check and the next
  std::chrono::milliseconds timeout{2000};   // one check: connect to the CAPABILITY answer
  double jitter = 0.1;  // each wait is interval × (1 ± jitter), uniform; 0..0.5
  // The first check of each backend at a random point within the first interval, so backends
  // configured together are not all checked at once; false: every backend at once (tests).
  bool spread_first_check = true;
  uint64_t seed = 0;  // for the jitter; 0 = from std::random_device

  // kInvalidArgument when interval or timeout is not positive, or jitter is outside 0..0.5.
  Status Validate() const;
};

// One backend to check.
struct HealthCheckTarget {
  BackendTarget target;  // as a login reaches it; its timeouts are replaced by the check timeout
  size_t index = 0;      // its entry in the BackendHealthTable
};

// The CheckOutcome for a BackendConnector failure detail ("connect: Connection refused",
// "connect timeout", "backend greeting is not IMAP", "backend TLS handshake: ...", ...).
health::CheckOutcome ClassifyCheckFailure(std::string_view detail);

// The wait before the next check: interval × (1 + jitter × (2u − 1)) for u in [0, 1), at least
// 1 ms. Pure, for the tests.
std::chrono::milliseconds JitteredInterval(std::chrono::milliseconds interval, double jitter,
                                           double u);

class HealthChecker {
 public:
  // Called after each check's result was recorded in the table (e.g. to count it in metrics).
  using ResultFn = std::function<void(size_t index, health::CheckOutcome outcome)>;

  // Schedules the first check of every target. Fails on invalid options, a target whose index
  // is not in the table or whose TLS link has no TLS context, or when a timer cannot be created
  // (nothing is started then).
  static StatusOr<std::unique_ptr<HealthChecker>> Start(net::EventLoop* loop,
                                                        const TimeSource* time,
                                                        health::BackendHealthTable* table,
                                                        std::vector<HealthCheckTarget> targets,
                                                        const HealthCheckOptions& options,
                                                        ResultFn on_result = {});
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Checks whose result was recorded, over all backends (for tests and diagnostics).
  uint64_t checks_finished() const { return checks_finished_; }

 private:
  class Probe;
  HealthChecker(net::EventLoop* loop, const TimeSource* time, health::BackendHealthTable* table,
                const HealthCheckOptions& options, ResultFn on_result);
  std::chrono::milliseconds NextDelay();
  std::chrono::milliseconds FirstDelay();

  net::EventLoop* loop_;
  const TimeSource* time_;
  health::BackendHealthTable* table_;
  HealthCheckOptions options_;
  ResultFn on_result_;
  std::mt19937_64 rng_;
  std::vector<char> scratch_;  // shared by the probes: used only within one callback at a time
  uint64_t checks_finished_ = 0;
  std::vector<std::unique_ptr<Probe>> probes_;
};

using HealthCheckerPtr = std::unique_ptr<HealthChecker>;

}  // namespace imapgate::upstream
