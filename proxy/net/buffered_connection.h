// BufferedConnection: one non-blocking byte stream on an event loop — its Transport, its
// IoWatcher, an output queue, and the read/write interest that follows from both, including
// TLS's cross-direction wants (a read that must write first, a write that must read first).
//
// The stages that talk a line protocol over a socket (the backend connector and login today;
// the frontend, relay, HTTP, Redis and health-check clients are meant to move onto it) use it
// instead of each keeping its own queue, flags and interest rules. It is a movable value, so a
// stage can hand the whole connection to the next one without an allocation, and the watcher
// stays registered across the hand-over (no epoll_ctl pair).
//
// Output is kept in wiping storage and wiped as soon as it is written: it may hold credentials.
// Single-threaded, on the loop that owns the watcher.
#pragma once

#include <memory>
#include <string_view>

#include "common/secret.h"
#include "common/status.h"
#include "net/event_loop.h"
#include "net/io_watcher.h"
#include "net/transport.h"

namespace imapgate::net {

class BufferedConnection {
 public:
  BufferedConnection() = default;
  // Wraps a transport and a watcher already made for its fd (or handed over, still registered).
  BufferedConnection(TransportPtr transport, IoWatcherPtr watcher)
      : transport_(std::move(transport)), watcher_(std::move(watcher)) {}
  // Makes the watcher for `transport`'s fd, reporting to `handler`.
  static StatusOr<BufferedConnection> Create(EventLoop* loop, TransportPtr transport, IoHandler* handler);

  BufferedConnection(BufferedConnection&&) noexcept = default;
  // The old watcher goes before the old transport closes its fd.
  BufferedConnection& operator=(BufferedConnection&& other) noexcept;
  ~BufferedConnection();

  bool open() const { return transport_ != nullptr; }
  Transport& transport() { return *transport_; }
  IoWatcher& watcher() { return *watcher_; }
  int fd() const { return transport_ ? transport_->fd() : -1; }

  // Reads up to len bytes; a TLS read that must write first is remembered for the interest.
  IoResult Read(char* buf, size_t len);
  // True if this readiness event should lead to a read: readable, or writable after a read
  // that wanted to write.
  bool ShouldRead(bool readable, bool writable) const { return readable || (writable && read_wants_write_); }

  // Queues bytes to write.
  void Queue(std::string_view bytes);
  // Writes what is queued. kOk: everything written (the queue is wiped and emptied); kWantWrite
  // or kWantRead: blocked (the interest asks for the right direction); kError: write failed.
  IoStatus Flush();
  bool has_output() const { return sent_ < output_.size(); }
  // Wipes and drops what is still queued (a failed or finished exchange).
  void DiscardOutput();

  // Arms read interest as asked and write interest when output is blocked or a read waits on
  // writability. Disarms both when `read` is false and nothing waits.
  void UpdateInterest(bool read = true);
  // Disarms both directions (the connection is done or failed).
  void StopWatching();

  // STARTTLS: gives up the fd of the current (plain) transport, to wrap it in TLS; then
  // SetTransport with the new one. Pending output must be empty.
  int ReleaseFdForUpgrade();
  void SetTransport(TransportPtr transport);

  // Hand-over to a stage that does not use this class (the relay): the watcher keeps its
  // interest and loses its handler.
  TransportPtr TakeTransport();
  IoWatcherPtr TakeWatcher();

  // For tests: whether `bytes` are still anywhere in the output storage (its whole capacity).
  bool OutputStorageContains(std::string_view bytes) const;

 private:
  TransportPtr transport_;
  IoWatcherPtr watcher_;
  WipingBytes output_;
  size_t sent_ = 0;
  bool write_blocked_ = false;    // the last write returned WANT_WRITE
  bool read_wants_write_ = false; // the last TLS read returned WANT_WRITE
};

}  // namespace imapgate::net
