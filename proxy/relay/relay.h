// Relay: the transparent two-way byte pump between a logged-in client and its backend.
//
// Bytes are read into the worker's shared scratch buffer and written straight on
// (net::BufferedConnection::Send); only what the destination does not accept at once is copied
// into that connection's output queue (allocated on demand and freed when empty, so an idle
// session holds no buffer; not wiped: relayed mail is no secret of ours). Backpressure: a direction stops
// reading its source when its queue reaches the high watermark and resumes below the low one.
// Half-close: EOF from one side is passed on (FIN / close_notify) after its queue drains, and the
// other direction keeps flowing until it ends too. IDLE, COMPRESS and pipelining pass untouched.
//
// The relay writes bytes of its own to the client only as a "* BYE <reason>" (backend lost,
// server shutdown, idle timeout), and only where imap::StreamFraming says the client can read
// it: at a line start of a plain stream, or as a deflate stored block at a flush point of a
// compressed one. Anywhere else (inside a literal, mid-line, inside a deflate block) it closes
// without a word rather than corrupt the stream.
//
// Owned by the Session on its worker. `done` runs once, from inside an I/O or timer callback;
// the owner must defer destroying the Relay until that callback returns.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/time_source.h"
#include "imap/stream_framing.h"
#include "net/buffered_connection.h"
#include "net/event_loop.h"
#include "net/io_watcher.h"
#include "net/timer.h"
#include "net/transport.h"
#include "stats/metrics.h"

namespace imapgate::relay {

struct RelayOptions {
  size_t high_watermark = 262144;
  size_t low_watermark = 65536;
  std::chrono::milliseconds idle_timeout{30 * 60 * 1000};
  // Where every read's bytes are added as they flow (imapgate_relay_bytes_total, through
  // Metrics::RelayBytesFlowed: one atomic add per read); not owned, outlives every relay (the
  // Server's). Null: not counted.
  stats::Metrics* metrics = nullptr;
};

// How a relayed session ended.
// kLogout: the backend said BYE (a LOGOUT, or its own shutdown) and closed; under COMPRESS, where
// the BYE cannot be seen, the backend's stream ended cleanly at a deflate flush point.
// kClosed: the client closed its side first. kBackendClosed: the backend went away without BYE
// (the client was sent "* BYE Backend connection lost" where that could be framed).
// kKicked: an operator ended it (a kick, or a drained backend's grace ending).
enum class RelayEnd { kLogout, kClosed, kClientError, kBackendClosed, kBackendError, kIdleTimeout, kShutdown, kKicked };
const char* RelayEndName(RelayEnd end);

// Bytes relayed so far, updated as they flow (one writer: the relay's worker; readers on other
// threads, e.g. the admin API, see a recent value).
struct RelayByteCounters {
  std::atomic<uint64_t> client_to_backend{0};
  std::atomic<uint64_t> backend_to_client{0};
};

struct RelayResult {
  RelayEnd end = RelayEnd::kClosed;
  uint64_t client_to_backend = 0;
  uint64_t backend_to_client = 0;
};

class Relay final : public net::IoHandler {
 public:
  using DoneFn = std::function<void(const RelayResult&)>;
  // Takes over both connections (their watchers report to the relay from now on; their queues
  // stop wiping). Bytes already queued on `client` go out first (the LOGIN answer), and
  // `initial_to_backend` (commands the client pipelined behind LOGIN) goes to the backend first.
  static StatusOr<std::unique_ptr<Relay>> Create(net::EventLoop* loop, net::BufferedConnection client,
                                                 net::BufferedConnection backend,
                                                 std::string_view initial_to_backend, const RelayOptions& options,
                                                 const TimeSource* time, char* scratch, size_t scratch_size,
                                                 DoneFn done);
  ~Relay() override;

  void Start();
  // True if either direction's queue holds memory (for tests: an idle relay holds none).
  bool holds_buffers() const;
  // Sends "* BYE <text>" to the client (if it can be framed and go out now) and ends the relay
  // with `end` (kShutdown or kKicked).
  void Shutdown(const char* text, RelayEnd end = RelayEnd::kShutdown);
  // Where to add bytes as they flow (null: nowhere); must outlive the relay.
  void set_counters(RelayByteCounters* counters) { counters_ = counters; }
  // The framing state, for tests.
  const imap::StreamFraming& framing() const { return framing_; }
  void OnIo(net::IoWatcher* watcher, bool readable, bool writable) override;

 private:
  // One direction of the pump: reads `src`, writes to `dst` (whose output queue is this
  // direction's queue).
  struct Pipe {
    net::BufferedConnection* src = nullptr;
    net::BufferedConnection* dst = nullptr;
    uint64_t bytes = 0;
    bool src_eof = false;
    bool dst_shut = false;
    bool paused = false;  // backpressure
    bool is_backend_to_client = false;
  };

  Relay(net::BufferedConnection client, net::BufferedConnection backend, const RelayOptions& options,
        const TimeSource* time, char* scratch, size_t scratch_size, DoneFn done);
  // Moves bytes along one pipe until it would block. Returns false if the relay ended.
  bool Pump(Pipe& p);
  bool WriteQueued(Pipe& p);
  void UpdateInterest();
  void Finish(RelayEnd end);
  void OnIdleTimer();
  // Queues "* BYE <text>" for the client if the stream can take it there (StreamFraming).
  void QueueBye(std::string_view text);
  // Sends our FIN (after TLS close_notify) to the pipe's destination; false while it must wait.
  bool ShutdownDestination(Pipe& p);

  net::BufferedConnection client_;
  net::BufferedConnection backend_;
  RelayOptions options_;
  const TimeSource* time_;
  char* scratch_;
  size_t scratch_size_;
  DoneFn done_;
  Pipe c2b_;
  Pipe b2c_;
  net::TimerPtr idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  imap::StreamFraming framing_;
  RelayByteCounters* counters_ = nullptr;
  bool backend_lost_ = false;  // the backend ended without BYE
  bool finished_ = false;
};

using RelayPtr = std::unique_ptr<Relay>;

}  // namespace imapgate::relay
