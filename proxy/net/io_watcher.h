// IoWatcher: readiness events for one file descriptor on one EventLoop.
//
// The watcher does not own the fd (the Transport does) and must be destroyed before the fd is
// closed. The handler is called on the loop's thread with which directions are ready; it may be
// swapped (set_handler) when a session moves from one stage to the next, and it may destroy
// nothing but must not delete the watcher from inside the callback (sessions defer deletion).
#pragma once

#include <memory>

#include "net/event_loop.h"

namespace imapgate::net {

class IoWatcher;

// Receives readiness notifications for one or more watchers.
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  virtual void OnIo(IoWatcher* watcher, bool readable, bool writable) = 0;
};

class IoWatcher {
 public:
  static StatusOr<std::unique_ptr<IoWatcher>> Create(EventLoop* loop, int fd, IoHandler* handler);
  ~IoWatcher();

  // With no handler (between two owners) the first readiness event disarms the watcher.
  void set_handler(IoHandler* handler) { handler_ = handler; }
  // Arms or disarms interest in each direction (level-triggered while armed).
  void WantRead(bool on);
  void WantWrite(bool on);
  bool wants_read() const { return want_read_; }
  bool wants_write() const { return want_write_; }
  // Runs the handler soon with `readable` set, even without new bytes (for data that TLS has
  // already buffered, or a pump that yielded). Uses a separate kick event, created on first use:
  // activating the persistent I/O event itself by hand was seen to leave it unregistered from
  // epoll under load (libevent 2.1), stalling the session.
  void ActivateRead();
  int fd() const { return fd_; }

 private:
  IoWatcher(int fd, IoHandler* handler) : fd_(fd), handler_(handler) {}
  static void Dispatch(int fd, short what, void* arg);
  static void Kick(int fd, short what, void* arg);

  int fd_;
  IoHandler* handler_;
  EventPtr read_event_;
  EventPtr write_event_;
  EventPtr kick_event_;  // created by the first ActivateRead()
  bool want_read_ = false;
  bool want_write_ = false;
};

using IoWatcherPtr = std::unique_ptr<IoWatcher>;

}  // namespace imapgate::net
