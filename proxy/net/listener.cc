#include "net/listener.h"

#include <errno.h>
#include <sys/socket.h>

#include "common/log.h"

namespace imapgate::net {

StatusOr<std::unique_ptr<Listener>> Listener::Create(EventLoop* loop, UniqueFd listen_fd, AcceptFn on_accept) {
  std::unique_ptr<Listener> l(new Listener(std::move(listen_fd), std::move(on_accept)));
  auto watcher = IoWatcher::Create(loop, l->fd_.get(), l.get());
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
    int fd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&peer.storage), &peer.length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      on_accept_(UniqueFd(fd), peer);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      LogEvent(LogLevel::kWarn, "accept_paused").Add("reason", "out of descriptors or memory");
      watcher_->WantRead(false);
      backoff_->Arm(std::chrono::milliseconds(100));
    }
    return;  // EAGAIN or a paused accept
  }
}

}  // namespace imapgate::net
