// WarmPool: per worker, a few connected and greeted (and, for TLS links, handshaken) connections
// to each backend, so that a login skips the connect, the handshake and the greeting — the part
// of a login through a proxy that a client talking straight to the backend does not pay, and
// that grows when the backend's login processes are busy.
//
// Each backend given to SetTargets gets up to `per_backend` ready connections, made with
// BackendConnector as a login would. A connection is dropped (never handed out) when it is older
// than `max_age` (kept below the backend's own pre-login timeout), when the backend became
// unusable since it was made (down or draining: BackendHealthTable::UnusableEpoch), or when the
// backend closed it or sent anything while it waited (watched for readability). Take() hands one
// out and the pool makes a new one; refills happen on a maintenance timer too, never in a burst
// against a backend whose connects fail (a failed fill waits for the next tick).
//
// Single-threaded, on its worker's loop; owned by the Worker. The targets' TLS contexts and the
// health table must outlive the pool or the next SetTargets.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "common/status.h"
#include "common/time_source.h"
#include "health/backend_health_table.h"
#include "net/event_loop.h"
#include "net/timer.h"
#include "upstream/backend_connector.h"

namespace imapgate::upstream {

struct WarmPoolOptions {
  size_t per_backend = 0;                       // 0: the pool is off
  std::chrono::milliseconds max_age{30000};     // a ready connection older than this is dropped
};

// One backend to keep warm.
struct WarmTarget {
  BackendTarget target;  // as a login reaches it (no PROXY header: such backends are not pooled)
  size_t health = 0;     // its entry in the health table: the key for Take()
};

class WarmPool final : public net::IoHandler {
 public:
  static StatusOr<std::unique_ptr<WarmPool>> Create(net::EventLoop* loop, const TimeSource* time,
                                                    const WarmPoolOptions& options);
  ~WarmPool() override;

  // The backends to keep warm from now on (a new configuration generation); connections to
  // backends no longer listed, or listed with another target, are dropped. `health` may be null.
  void SetTargets(std::vector<WarmTarget> targets, const health::BackendHealthTable* health);
  // A ready connection to the backend with health index `health`, if one is fit to use.
  std::optional<BackendConnection> Take(size_t health);
  // Ready connections to that backend now (for tests).
  size_t ready(size_t health) const;

  void OnIo(net::IoWatcher* watcher, bool readable, bool writable) override;

 private:
  struct Ready {
    BackendConnection conn;
    std::chrono::steady_clock::time_point made;
    uint64_t epoch = 0;
  };
  class Filler;
  struct Slot {
    WarmTarget target;
    std::deque<Ready> ready;
    size_t filling = 0;  // fillers in flight
  };

  WarmPool(net::EventLoop* loop, const TimeSource* time, const WarmPoolOptions& options);
  // Drops what is unfit and starts fillers up to per_backend for each usable backend.
  void Maintain();
  void StartFill(size_t slot);
  void OnFilled(Filler* filler, std::optional<BackendConnection> conn);
  bool Fit(const Slot& slot, const Ready& r) const;
  uint64_t Epoch(size_t health) const;
  bool Usable(size_t health) const;

  net::EventLoop* loop_;
  const TimeSource* time_;
  WarmPoolOptions options_;
  const health::BackendHealthTable* health_ = nullptr;
  std::vector<std::unique_ptr<Slot>> slots_;  // by pointer: a deque of move-only entries
  std::vector<std::unique_ptr<Filler>> fillers_;
  std::vector<char> scratch_ = std::vector<char>(16384);  // the fillers' reads (greetings)
  net::TimerPtr tick_;
  uint64_t generation_ = 0;  // bumped by SetTargets: fills of an older set are discarded
};

using WarmPoolPtr = std::unique_ptr<WarmPool>;

}  // namespace imapgate::upstream
