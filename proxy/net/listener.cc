#include "net/listener.h"

#include <errno.h>
#include <sys/socket.h>

#include <cstring>

#include "common/log.h"

namespace imapgate::net {

StatusOr<std::unique_ptr<Listener>> Listener::Create(EventLoop* loop, UniqueFd listen_fd, AcceptFn on_accept) {
  return Create(loop, std::make_shared<const UniqueFd>(std::move(listen_fd)), std::move(on_accept));
}

StatusOr<std::unique_ptr<Listener>> Listener::Create(EventLoop* loop, std::shared_ptr<const UniqueFd> listen_fd,
                                                     AcceptFn on_accept) {
  if (!listen_fd || !listen_fd->valid()) return InvalidArgument("listener: no listening socket");
  std::unique_ptr<Listener> l(new Listener(std::move(listen_fd), std::move(on_accept)));
  auto watcher = IoWatcher::Create(loop, l->fd_->get(), l.get());
  if (!watcher.ok()) return watcher.status();
  l->watcher_ = std::move(*watcher);
  Listener* raw = l.get();
  auto timer = Timer::Create(loop, [raw] {
    if (!raw->paused_) raw->watcher_->WantRead(true);
  });
  if (!timer.ok()) return timer.status();
  l->backoff_ = std::move(*timer);
  l->watcher_->WantRead(true);
  return l;
}

void Listener::Pause() {
  paused_ = true;
  watcher_->WantRead(false);
}

void Listener::Resume() {
  paused_ = false;
  watcher_->WantRead(true);
}

void Listener::OnIo(IoWatcher*, bool readable, bool) {
  if (!readable) return;
  // Accept a bounded batch per event so one busy listener cannot starve the loop.
  for (int i = 0; i < 64 && !paused_; ++i) {
    SocketAddress peer;
    peer.length = sizeof peer.storage;
    int fd = ::accept4(fd_->get(), reinterpret_cast<sockaddr*>(&peer.storage), &peer.length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      on_accept_(UniqueFd(fd), peer);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      const int err = errno;
      uint64_t repeats = 0;
      if (pause_log_.Allow(std::chrono::steady_clock::now(), &repeats)) {
        LogEvent(LogLevel::kWarn, "accept_paused")
            .Add("reason", err == EMFILE || err == ENFILE ? "out of file descriptors" : "out of memory")
            .Add("errno", strerror(err))
            .Add("pause_ms", 100)
            .Add("repeats_since_last_line", repeats);
      }
      watcher_->WantRead(false);
      backoff_->Arm(std::chrono::milliseconds(100));
    }
    return;  // EAGAIN or a paused accept
  }
}

}  // namespace imapgate::net
