// Listener: accepts connections on a listening socket for one worker's EventLoop.
//
// The listening socket may be shared: the server binds each configured listener once (no
// SO_REUSEPORT, so another process cannot join it) and every worker watches the same fd with its
// own Listener; the kernel wakes the watchers, one accept4() wins and the others get EAGAIN.
// Each accepted connection is handed to on_accept as a non-blocking, close-on-exec fd that the
// callee owns, with the peer's address (from accept4, no getpeername). On EMFILE/ENFILE (and
// ENOBUFS/ENOMEM) the listener stops watching for 100 ms instead of spinning, and logs that at
// most once per 10 s with the number of repeats. Pause() and Resume() let the owner stop
// accepting (e.g. at the session cap, or when draining).
#pragma once

#include <functional>
#include <memory>

#include "net/event_loop.h"
#include "net/io_watcher.h"
#include "net/log_limiter.h"
#include "net/socket.h"
#include "net/timer.h"

namespace imapgate::net {

class Listener final : public IoHandler {
 public:
  using AcceptFn = std::function<void(UniqueFd fd, const SocketAddress& peer)>;
  // Owns listen_fd.
  static StatusOr<std::unique_ptr<Listener>> Create(EventLoop* loop, UniqueFd listen_fd, AcceptFn on_accept);
  // Shares listen_fd with other Listeners (on other loops); the socket closes with the last one.
  static StatusOr<std::unique_ptr<Listener>> Create(EventLoop* loop, std::shared_ptr<const UniqueFd> listen_fd,
                                                    AcceptFn on_accept);

  void Pause();
  void Resume();
  void OnIo(IoWatcher* watcher, bool readable, bool writable) override;

 private:
  Listener(std::shared_ptr<const UniqueFd> fd, AcceptFn on_accept)
      : fd_(std::move(fd)), on_accept_(std::move(on_accept)) {}
  std::shared_ptr<const UniqueFd> fd_;
  AcceptFn on_accept_;
  IoWatcherPtr watcher_;
  TimerPtr backoff_;
  bool paused_ = false;
  LogRateLimiter pause_log_{1, std::chrono::seconds(10)};
};

using ListenerPtr = std::unique_ptr<Listener>;

}  // namespace imapgate::net
