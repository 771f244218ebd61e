// Listener: accepts connections on one listening socket of one worker's EventLoop.
//
// Each accepted connection is handed to on_accept as a non-blocking, close-on-exec fd that the
// callee owns, with the peer's address (from accept4, no getpeername). On EMFILE/ENFILE the
// listener pauses for 100 ms instead of spinning. Pause() and Resume() let the owner stop
// accepting (e.g. at the session cap, or when draining).
#pragma once

#include <functional>
#include <memory>

#include "net/event_loop.h"
#include "net/io_watcher.h"
#include "net/socket.h"
#include "net/timer.h"

namespace imapgate::net {

class Listener final : public IoHandler {
 public:
  using AcceptFn = std::function<void(UniqueFd fd, const SocketAddress& peer)>;
  static StatusOr<std::unique_ptr<Listener>> Create(EventLoop* loop, UniqueFd listen_fd, AcceptFn on_accept);

  void Pause();
  void Resume();
  void OnIo(IoWatcher* watcher, bool readable, bool writable) override;

 private:
  Listener(UniqueFd fd, AcceptFn on_accept) : fd_(std::move(fd)), on_accept_(std::move(on_accept)) {}
  UniqueFd fd_;
  AcceptFn on_accept_;
  IoWatcherPtr watcher_;
  TimerPtr backoff_;
  bool paused_ = false;
};

using ListenerPtr = std::unique_ptr<Listener>;

}  // namespace imapgate::net
