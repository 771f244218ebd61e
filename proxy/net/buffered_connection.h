// BufferedConnection: one non-blocking byte stream on an event loop — its Transport, its
// IoWatcher, an output queue, and the read/write interest that follows from both, including
// TLS's cross-direction wants (a read that must write first, a write that must read first) and a
// TLS close_notify that must be retried.
//
// Every stage that owns a socket uses it: the client frontend, the backend connector and login,
// and the relay (and the HTTP, Redis and health-check clients to come), instead of each keeping
// its own queue, flags and interest rules. It is a movable value, so a stage hands the whole
// connection to the next one without an allocation, and the watcher stays registered across the
// hand-over (no epoll_ctl pair): the frontend and the login hand theirs to the relay.
//
// Output: Queue() appends; Flush() writes what is queued; Send() writes straight from the
// caller's buffer when nothing is queued and queues only what the transport did not take (the
// relay's zero-copy path). Queue storage follows ByteQueue's policy: kWipe (the default: it may
// hold credentials) or kPlain (relayed mail, no per-byte wipe cost). An emptied queue gives its
// memory back, so an idle connection holds no buffer.
// Single-threaded, on the loop that owns the watcher.
#pragma once

#include <memory>
#include <string_view>

#include "common/status.h"
#include "net/byte_queue.h"
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
  const Transport& transport() const { return *transport_; }
  IoWatcher& watcher() { return *watcher_; }
  const IoWatcher* watcher_ptr() const { return watcher_.get(); }
  int fd() const { return transport_ ? transport_->fd() : -1; }
  // Routes this connection's readiness to `handler` (a stage taking over the connection).
  void set_handler(IoHandler* handler) {
    if (watcher_) watcher_->set_handler(handler);
  }

  // Reads up to len bytes; a TLS read that must write first is remembered for the interest.
  IoResult Read(char* buf, size_t len);
  // True if this readiness event should lead to a read: readable, or writable after a read
  // that wanted to write.
  bool ShouldRead(bool readable, bool writable) const { return readable || (writable && read_wants_write_); }
  // True if this readiness event should lead to a Flush (or a retried shutdown): output is
  // pending and the direction it waits for is ready.
  bool ShouldFlush(bool readable, bool writable) const {
    return has_pending_output() && (writable || (readable && write_wants_read_));
  }
  // The last read returned WANT_WRITE (TLS): the next read waits for writability.
  bool read_wants_write() const { return read_wants_write_; }
  // True if the transport holds decrypted input that produces no readiness event.
  bool HasBufferedInput() const { return transport_ && transport_->HasBufferedInput(); }

  // Queues bytes to write.
  void Queue(std::string_view bytes) { output_.Append(bytes); }
  // Writes `bytes` at once if nothing is queued, and queues what the transport did not take.
  // kOk: written or queued; kError: the write failed (nothing was queued).
  IoStatus Send(const char* bytes, size_t len);
  // Writes what is queued. kOk: everything written (the queue is empty); kWantWrite or
  // kWantRead: blocked (the interest asks for the right direction); kError: write failed.
  IoStatus Flush();
  bool has_output() const { return !output_.empty(); }
  // Output or a close_notify still to be written.
  bool has_pending_output() const { return has_output() || shutdown_wants_write_; }
  size_t queued_bytes() const { return output_.size(); }
  // The queued bytes, unsent (for a stage taking over the connection).
  std::string_view queued_output() const { return output_.view(); }
  // Wipes (per policy) and drops what is still queued (a failed or finished exchange).
  void DiscardOutput();
  // The queue's policy from now on (ByteQueue::Policy).
  void set_output_policy(ByteQueue::Policy policy) { output_.set_policy(policy); }
  // True if the output queue holds memory (an idle connection holds none).
  bool holds_output_memory() const { return output_.holds_memory(); }

  // Ends our side of the stream (TLS close_notify, then FIN) once the caller has flushed.
  // kOk: done; kWantWrite: it must be retried (has_pending_output() is true until then).
  IoStatus ShutdownWrite();

  // Arms read interest when `read` is asked (and the last read did not wait on writability) or
  // when blocked output waits on readability; write interest when output is pending or a read
  // waits on writability. With `read` false and nothing pending, disarms both.
  void UpdateInterest(bool read = true);
  // Disarms both directions (the connection is done or failed).
  void StopWatching();
  // Runs the handler soon as if readable (input TLS has already buffered, or a pump that yielded).
  void ActivateRead() {
    if (watcher_) watcher_->ActivateRead();
  }

  // STARTTLS: gives up the fd of the current (plain) transport, to wrap it in TLS; then
  // SetTransport with the new one. Pending output must be empty.
  int ReleaseFdForUpgrade();
  void SetTransport(TransportPtr transport);

  // For tests: whether `bytes` are still anywhere in the output storage (its whole capacity).
  bool OutputStorageContains(std::string_view bytes) const { return output_.StorageContains(bytes); }

 private:
  TransportPtr transport_;
  IoWatcherPtr watcher_;
  ByteQueue output_;
  bool write_wants_read_ = false;      // the last write returned WANT_READ (TLS)
  bool read_wants_write_ = false;      // the last read returned WANT_WRITE (TLS)
  bool shutdown_wants_write_ = false;  // ShutdownWrite must be retried when writable
};

}  // namespace imapgate::net
