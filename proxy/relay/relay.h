// Relay: the transparent two-way byte pump between a logged-in client and its backend.
//
// Bytes are read into the worker's shared scratch buffer and written straight on; only what the
// destination does not accept at once is copied into a per-direction queue (allocated on demand
// and freed when empty, so an idle session holds no buffer). Backpressure: a direction stops
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

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/time_source.h"
#include "imap/stream_framing.h"
#include "net/event_loop.h"
#include "net/io_watcher.h"
#include "net/timer.h"
#include "net/transport.h"

namespace imapgate::relay {

struct RelayOptions {
  size_t high_watermark = 262144;
  size_t low_watermark = 65536;
  std::chrono::milliseconds idle_timeout{30 * 60 * 1000};
};

// How a relayed session ended.
// kLogout: the backend said BYE (a LOGOUT, or its own shutdown) and closed; under COMPRESS, where
// the BYE cannot be seen, the backend's stream ended cleanly at a deflate flush point.
// kClosed: the client closed its side first. kBackendClosed: the backend went away without BYE
// (the client was sent "* BYE Backend connection lost" where that could be framed).
enum class RelayEnd { kLogout, kClosed, kClientError, kBackendClosed, kBackendError, kIdleTimeout, kShutdown };
const char* RelayEndName(RelayEnd end);

struct RelayResult {
  RelayEnd end = RelayEnd::kClosed;
  uint64_t client_to_backend = 0;
  uint64_t backend_to_client = 0;
};

// One side of the relay: the transport and its readiness watcher.
struct RelaySide {
  net::TransportPtr transport;
  net::IoWatcherPtr watcher;
};

class Relay final : public net::IoHandler {
 public:
  using DoneFn = std::function<void(const RelayResult&)>;
  // initial_to_client / initial_to_backend are queued first (the LOGIN answer, and commands the
  // client pipelined behind LOGIN).
  static StatusOr<std::unique_ptr<Relay>> Create(net::EventLoop* loop, RelaySide client, RelaySide backend,
                                                 std::string_view initial_to_client,
                                                 std::string_view initial_to_backend, const RelayOptions& options,
                                                 const TimeSource* time, char* scratch, size_t scratch_size,
                                                 DoneFn done);
  ~Relay() override;

  void Start();
  // True if either direction's queue holds memory (for tests: an idle relay holds none).
  bool holds_buffers() const;
  // Sends "* BYE <text>" to the client (if it can be framed and go out now) and ends the relay.
  void Shutdown(const char* text);
  // The framing state, for tests.
  const imap::StreamFraming& framing() const { return framing_; }
  void OnIo(net::IoWatcher* watcher, bool readable, bool writable) override;

 private:
  // A growable byte queue that frees its memory when emptied.
  class Queue {
   public:
    size_t size() const { return end_ - begin_; }
    bool empty() const { return begin_ == end_; }
    const char* data() const { return data_.get() + begin_; }
    void Append(const char* p, size_t n);
    void Consume(size_t n);
    bool holds_memory() const { return data_ != nullptr; }
   private:
    std::unique_ptr<char[]> data_;
    size_t capacity_ = 0, begin_ = 0, end_ = 0;
  };

  // One direction of the pump.
  struct Pipe {
    net::Transport* src = nullptr;
    net::Transport* dst = nullptr;
    net::IoWatcher* src_watcher = nullptr;
    net::IoWatcher* dst_watcher = nullptr;
    Queue queue;
    uint64_t bytes = 0;
    bool src_eof = false;
    bool dst_shut = false;
    bool shut_wants_write = false;  // ShutdownWrite (TLS close_notify) must be retried
    bool paused = false;        // backpressure
    bool src_wants_write = false;  // last read returned WANT_WRITE (TLS)
    bool dst_wants_read = false;   // last write returned WANT_READ (TLS)
    bool is_backend_to_client = false;
  };

  Relay(RelaySide client, RelaySide backend, const RelayOptions& options,
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

  RelaySide client_;
  RelaySide backend_;
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
  bool backend_lost_ = false;  // the backend ended without BYE
  bool finished_ = false;
};

using RelayPtr = std::unique_ptr<Relay>;

}  // namespace imapgate::relay
